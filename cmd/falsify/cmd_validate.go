package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine/backend"
)

func init() {
	register("validate", "check contracts (pv's rules and falsify's), naming file and line", runValidate)
}

// validated is one contract's result, as --json prints it.
type validated struct {
	File     string              `json:"file"`
	ID       string              `json:"id,omitempty"`
	SHA256   string              `json:"sha256,omitempty"`
	Valid    bool                `json:"valid"`
	Findings []contracts.Finding `json:"findings"`
}

type validateReport struct {
	Contracts []validated `json:"contracts"`
	Errors    int         `json:"errors"`
	Warnings  int         `json:"warnings"`
}

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "validate [--json] [--strict] [FILE|DIR|builtin:NAME ...]\n\n"+
		"Checks contract files (a DIR means its *.yaml and *.yml files; no argument means\n"+
		"the builtin contracts) and prints one line per finding: file:line: rule: message.\n"+
		"Exits 1 when any contract has an error finding, 3 when a file cannot be read.\n"+
		"The contract reference: docs/contracts.md.", stderr)
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	paths, err := contractPaths(pos)
	if err != nil {
		return err
	}
	var rep validateReport
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := validateOne(p)
		if err != nil {
			return err
		}
		for _, f := range v.Findings {
			if f.Severity == contracts.SeverityError || *strict {
				rep.Errors++
				v.Valid = false
			} else {
				rep.Warnings++
			}
		}
		rep.Contracts = append(rep.Contracts, v)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, v := range rep.Contracts {
			for _, f := range v.Findings {
				fmt.Fprintln(stdout, f)
			}
		}
	}
	fmt.Fprintf(stderr, "validate: %d contract(s), %d error(s), %d warning(s)\n", len(rep.Contracts), rep.Errors, rep.Warnings)
	if rep.Errors > 0 {
		return exitError{1}
	}
	return nil
}

// contractPaths expands the arguments into contract references
// (contracts.Resolve: files, directories, builtin names; none means the
// builtins).
func contractPaths(args []string) ([]string, error) {
	refs, err := contracts.Resolve(args...)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return refs, nil
}

// validateOne parses and validates one contract; a YAML syntax error is a
// finding like any other, a file that cannot be read is an error.
func validateOne(path string) (validated, error) {
	c, err := contracts.Open(path)
	var se *contracts.SyntaxError
	switch {
	case errors.As(err, &se):
		return validated{File: path, Findings: []contracts.Finding{se.Finding()}}, nil
	case err != nil:
		return validated{}, fmt.Errorf("validate: %w", err)
	}
	fs := append(contracts.Validate(c), unregisteredBackends(path, c)...)
	if fs == nil {
		fs = []contracts.Finding{}
	}
	return validated{File: path, ID: c.ID, SHA256: c.SHA256, Valid: !contracts.HasErrors(fs), Findings: fs}, nil
}

// unregisteredBackends warns about subjects whose backend this build does
// not register (a typo such as "vulkn" would otherwise only show up as a
// SKIP when the contract runs). A warning, not an error: a contract may
// name a backend another build of falsify has.
func unregisteredBackends(path string, c *contracts.Contract) []contracts.Finding {
	registered := backend.Names()
	var out []contracts.Finding
	for _, s := range c.Subjects {
		name := string(s.Backend)
		if name == "" || slices.Contains(registered, name) {
			continue
		}
		hint := ""
		if n := nearest(name, registered); n != "" {
			hint = fmt.Sprintf("; did you mean %q?", n)
		}
		out = append(out, contracts.Finding{File: path, Line: s.Pos.Line, Column: s.Pos.Column, Rule: contracts.RuleUnknownBackend,
			Severity: contracts.SeverityWarning,
			Message:  fmt.Sprintf("subject %q: backend %q is not registered in this build (%s): its gates will SKIP%s", s.Name, name, strings.Join(registered, ", "), hint)})
	}
	return out
}
