package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"slices"
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
		"names, then the builtin defaults. Exit status 0 only if every gate PASSed.", stderr)
	fs.Var(sets, "set", "override a subject's model: SUBJECT=PATH (repeatable), e.g. --set gguf=model.gguf --set apr=model.apr")
	out := fs.String("evidence", "out/evidence", "directory to write evidence into")
	threads := fs.Int("threads", 0, "threads for subjects that do not fix their own (0: all cores)")
	fs.IntVar(threads, "t", 0, "short for --threads")
	allowSkip := fs.Bool("allow-skip", false, "count SKIP as passing in the exit status")
	asJSON := fs.Bool("json", false, "print the run report as JSON instead of the Markdown table")
	allowCommands := fs.Bool("allow-commands", false, "let `command` gates run their shell commands (as you, with only PATH, HOME, LANG and the variables the gate names); without it they SKIP. FALSIFY_ALLOW_COMMANDS=1 does the same")
	shard := fs.String("shard", "", "name this run a shard: with --gate it judges part of the contracts' gates, and `falsify gate` passes only the shards together (same contract version and models) covering every gate")
	var only gateList
	fs.Var(&only, "gate", "judge only this gate id (repeatable; needs --shard)")
	signKey := fs.String("sign-key", "", "ed25519 private key (PEM, PKCS #8) to sign the run report with: writes run-<id>.dsse, a DSSE envelope of an in-toto statement over the report and every record (`falsify gate --verify-key` checks it)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = contracts.Builtin()
	}
	if len(only) > 0 && *shard == "" {
		return usagef("--gate judges part of a contract: name the run with --shard, so `falsify gate` knows to expect the other shards")
	}
	var key ed25519.PrivateKey
	if *signKey != "" {
		if key, err = evidence.LoadSigningKey(*signKey); err != nil {
			return fmt.Errorf("run: --sign-key: %w", err)
		}
	}
	var cs []*contracts.Contract
	byID := map[string]*contracts.Contract{}
	for _, name := range pos {
		c, err := loadContractArg(name)
		if err != nil {
			return err
		}
		if err := contracts.Check(c); err != nil {
			return fmt.Errorf("%s: %w", c.Path, err)
		}
		if prev, ok := byID[c.ID]; ok {
			if prev.SHA256 != c.SHA256 {
				return fmt.Errorf("run: %s and %s both have the contract id %s but different content: one would be judged for both; rename one or run them separately", prev.Path, c.Path, c.ID)
			}
			continue // the same contract named twice
		}
		byID[c.ID] = c
		cs = append(cs, c)
	}
	for _, id := range only {
		if !anyHasGate(cs, id) {
			return usagef("--gate %s: no contract given has that gate", id)
		}
	}
	for name := range sets {
		if !anyHasSubject(cs, name) {
			return usagef("--set %s: no contract given has a subject %q", name, name)
		}
	}
	start := time.Now()
	r := harness.New(harness.Options{Set: sets, Threads: *threads, Log: stderr, AllowCommands: *allowCommands})
	defer r.Close()
	// The run report is written first, marked running and declaring every
	// gate, so a run killed at any point leaves evidence that fails the gate.
	report := evidence.NewRunReport(r.RunID(), engine.Version, start.UTC())
	report.Shard = *shard
	w, err := evidence.StartRun(*out, report, harness.Declare(cs...))
	if err != nil {
		return fmt.Errorf("run: %s: %w", *out, err)
	}
	finished := false
	defer func() {
		if !finished {
			_ = w.Interrupt("the run stopped before judging every gate")
		}
	}()
	for _, c := range cs {
		for _, t := range c.FalsificationTests {
			if len(only) > 0 && !slices.Contains(only, t.ID) {
				continue
			}
			if err := ctx.Err(); err != nil {
				_ = w.Interrupt(fmt.Sprintf("interrupted before %s: %v", t.ID, err))
				return err
			}
			rec := r.Evaluate(ctx, c, t.ID)
			if _, err := w.Gate(rec); err != nil {
				_ = w.Interrupt(fmt.Sprintf("writing %s failed: %v", t.ID, err))
				return err
			}
			fmt.Fprintf(stderr, "%-8s %s %s\n", rec.Verdict, rec.GateID, firstLineOf(rec.Reason))
		}
	}
	if err := ctx.Err(); err != nil {
		// Interrupted while judging the last gate: its record says
		// cancelled, and the run is not complete.
		_ = w.Interrupt(fmt.Sprintf("interrupted: %v", err))
		return err
	}
	rep, err := w.Finish(time.Now())
	if err != nil {
		return err
	}
	finished = true
	if key != nil {
		if _, err := evidence.SignRun(*out, rep, key); err != nil {
			return err
		}
	}
	if _, err := evidence.WriteSummary(*out, rep); err != nil {
		return err
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

// gateList collects repeated --gate ID options.
type gateList []string

func (g *gateList) String() string { return strings.Join(*g, ",") }

func (g *gateList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty gate id")
	}
	*g = append(*g, v)
	return nil
}

func anyHasGate(cs []*contracts.Contract, id string) bool {
	for _, c := range cs {
		if _, ok := c.Test(id); ok {
			return true
		}
	}
	return false
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
