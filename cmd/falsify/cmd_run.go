package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/harness"
)

func init() {
	register("run", "run contracts without Ginkgo: judge every gate, write evidence", runRun)
}

// setFlags collects repeated --set subject=PATH options.
type setFlags map[string]string

func (s setFlags) String() string { return fmt.Sprint(map[string]string(s)) }

func (s setFlags) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want SUBJECT=PATH, got %q", v)
	}
	s[name] = path
	return nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sets := setFlags{}
	fs := newFlagSet("run", "run [options] [CONTRACT ...]\n\n"+
		"CONTRACT is a contract file or a builtin contract name (default: every builtin\n"+
		"contract: "+strings.Join(contracts.Builtin(), ", ")+").\n"+
		"Subjects' models come from --set, then the environment variables the contract\n"+
		"names, then the builtin defaults. Each gate's record, the run report and the\n"+
		"Markdown summary of every record in the directory go to --evidence.\n"+
		"Exit status 0 only if every gate PASSed.", stderr)
	fs.Var(sets, "set", "override a subject's model: SUBJECT=PATH (repeatable), e.g. --set gguf=model.gguf --set apr=model.apr")
	out := fs.String("evidence", "out/evidence", "directory to write evidence into")
	threads := fs.Int("threads", 0, "threads for subjects that do not fix their own (0: all cores)")
	fs.IntVar(threads, "t", 0, "short for --threads")
	allowSkip := fs.Bool("allow-skip", false, "count SKIP as passing in the exit status")
	asJSON := fs.Bool("json", false, "print the run report as JSON instead of the Markdown table")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = contracts.Builtin()
	}
	var cs []*contracts.Contract
	for _, name := range pos {
		c, err := loadContractArg(name)
		if err != nil {
			return err
		}
		if err := contracts.Check(c); err != nil {
			return fmt.Errorf("%s: %w", c.Path, err)
		}
		cs = append(cs, c)
	}
	for name := range sets {
		if !anyHasSubject(cs, name) {
			return usagef("--set %s: no contract given has a subject %q", name, name)
		}
	}
	start := time.Now()
	r := harness.New(harness.Options{Set: sets, Threads: *threads, Log: stderr})
	defer r.Close()
	var judged []*evidence.GateRecord
	for _, c := range cs {
		for _, t := range c.FalsificationTests {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := r.RecordGate(ctx, c, t.ID, *out, "")
			if err != nil {
				return err
			}
			judged = append(judged, rec)
			fmt.Fprintf(stderr, "%-8s %s %s\n", rec.Verdict, rec.GateID, firstLineOf(rec.Reason))
		}
	}
	rep, _, err := harness.FinishRun(*out, r.RunID(), start, time.Now(), judged)
	if err != nil {
		return err
	}
	if rep == nil { // the contracts have no falsification tests
		rep = evidence.NewRunReport(r.RunID(), engine.Version, start.UTC())
	}
	if err := printReport(stdout, rep, *asJSON); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "run: %s; evidence in %s\n", rep.Counts, *out)
	if !rep.Passed(*allowSkip) {
		return exitError{1}
	}
	return nil
}

func loadContractArg(name string) (*contracts.Contract, error) {
	if _, err := os.Stat(name); err == nil {
		return contracts.Load(name)
	}
	c, err := contracts.LoadBuiltin(name)
	if err != nil {
		return nil, fmt.Errorf("%s: not a file, and %w", name, err)
	}
	return c, nil
}

func anyHasSubject(cs []*contracts.Contract, name string) bool {
	for _, c := range cs {
		if _, ok := c.Subject(name); ok {
			return true
		}
	}
	return false
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
