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
		"CONTRACT is a contract file, a directory of them (*.yaml, *.yml) or a builtin\n"+
		"contract name (default: every builtin contract: "+strings.Join(contracts.Builtin(), ", ")+").\n"+
		"Subjects' models come from --set, then the environment variables the contract\n"+
		"names, then the builtin defaults. Each gate's record, the run report and the\n"+
		"Markdown summary of every record in the directory go to --evidence.\n"+
		"Exit status 0 only if every gate PASSed.", stderr)
	fs.Var(sets, "set", "override a subject's model: SUBJECT=PATH (repeatable), e.g. --set gguf=model.gguf --set apr=model.apr")
	out := fs.String("evidence", "out/evidence", "directory to write evidence into")
	threads := fs.Int("threads", 0, "threads for subjects that do not fix their own (0: all cores)")
	fs.IntVar(threads, "t", 0, "short for --threads")
	allowSkip := fs.Bool("allow-skip", false, "count SKIP as passing in the exit status")
	allowUnavailable := fs.String("allow-unavailable", "", "count as passing only the SKIPs whose subject's engine backend is missing here\n"+
		"(comma-separated `BACKENDS`, e.g. vulkan), as 'falsify gate --allow-unavailable'")
	var filter gateFilter
	fs.Var(&filter, "k", "run only gates whose contract id, gate id or rule contains this text, case-insensitive (repeatable; as pytest -k)")
	fs.Var(&filter, "gate", "same as -k")
	junit := fs.String("junit", "", "also write the verdicts as JUnit XML to this `FILE` (FAIL/BLOCKED: failure, ERROR: error, SKIP: skipped)")
	asJSON := fs.Bool("json", false, "print the run report as JSON instead of the Markdown table")
	allowCommands := fs.Bool("allow-commands", false, "let command gates run their shell commands (as you, with only PATH, HOME, LANG and the variables the gate names); without it they SKIP. FALSIFY_ALLOW_COMMANDS=1 does the same")
	shard := fs.String("shard", "", "name this run a shard (`NAME`): with -k it judges part of the contracts' gates, and 'falsify gate' passes only the shards together (same contract version and models) covering every gate")
	signKey := fs.String("sign-key", "", "ed25519 private key (PEM, PKCS #8) to sign the run report with: writes run-<id>.dsse, a DSSE envelope of an in-toto statement over the report and every record ('falsify gate --verify-key' checks it; value: `FILE`)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	unavailable, err := backendList("--allow-unavailable", *allowUnavailable)
	if err != nil {
		return err
	}
	warnUnregistered(stderr, "--allow-unavailable", unavailable)
	refs, err := contracts.Resolve(pos...)
	if err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if *signKey != "" {
		if key, err = evidence.LoadSigningKey(*signKey); err != nil {
			return fmt.Errorf("run: --sign-key: %w", err)
		}
	}
	var cs []*contracts.Contract
	byID := map[string]*contracts.Contract{}
	for _, ref := range refs {
		c, err := contracts.Open(ref)
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
	for name := range sets {
		if !anyHasSubject(cs, name) {
			return usagef("--set %s: no contract given has a subject %q", name, name)
		}
		for _, c := range cs {
			if s, ok := c.Subject(name); ok && s.Kind == contracts.SubjectCommand {
				return usagef("--set %s: subject %q of %s runs a command whose tracer writes its trace; --set replaces a model, golden or trace file", name, name, c.ID)
			}
		}
	}
	type selected struct {
		c  *contracts.Contract
		id string
	}
	var todo []selected
	for _, c := range cs {
		for i := range c.FalsificationTests {
			if t := &c.FalsificationTests[i]; filter.match(c, t) {
				todo = append(todo, selected{c, t.ID})
			}
		}
	}
	if countGates(cs) == 0 {
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.Path
		}
		return fmt.Errorf("run: %s: no falsification tests: nothing to judge", strings.Join(ids, ", "))
	}
	if len(todo) == 0 {
		return usagef("-k %s: no gate of the %d contract(s) matches", filter.String(), len(cs))
	}
	var running []*contracts.Contract
	for _, g := range todo {
		if !slices.Contains(running, g.c) {
			running = append(running, g.c)
		}
	}
	for _, w := range modelWarnings(running, sets, os.LookupEnv, os.Environ()) {
		fmt.Fprintln(stderr, "run: warning:", w)
	}
	start := time.Now()
	r := harness.New(harness.Options{Set: sets, Threads: *threads, Log: stderr, AllowCommands: *allowCommands})
	defer r.Close()
	if n := countGates(cs); len(todo) < n && *shard == "" {
		fmt.Fprintf(stderr, "run: warning: -k selects %d of %d gates; `falsify gate` refuses a partial run unless it is named with --shard and the other shards are in the same directory\n", len(todo), n)
	}
	// The run report is written first, marked running and declaring every
	// gate, so a run killed at any point leaves evidence that fails the gate.
	rep := evidence.NewRunReport(r.RunID(), engine.Version, start.UTC())
	rep.Shard = *shard
	w, err := evidence.StartRun(*out, rep, harness.Declare(cs...))
	if err != nil {
		return fmt.Errorf("run: %s: %w", *out, err)
	}
	finished := false
	defer func() {
		if !finished {
			_ = w.Interrupt("the run stopped before judging every gate")
		}
	}()
	var recs []*evidence.GateRecord
	for i, g := range todo {
		if err := ctx.Err(); err != nil {
			_ = w.Interrupt(fmt.Sprintf("interrupted before %s: %v", g.id, err))
			return err
		}
		fmt.Fprintf(stderr, "run: [%d/%d] %s %s ...\n", i+1, len(todo), g.c.ID, g.id)
		t0 := time.Now()
		rec, err := r.RecordGate(ctx, g.c, g.id, w, "")
		if err != nil {
			_ = w.Interrupt(fmt.Sprintf("writing %s failed: %v", g.id, err))
			return err
		}
		recs = append(recs, rec)
		fmt.Fprintf(stderr, "run: [%d/%d] %-7s %s (%.1fs) %s\n", i+1, len(todo), rec.Verdict, rec.GateID, time.Since(t0).Seconds(), firstLineOf(rec.Reason))
	}
	if *junit != "" {
		if err := writeJUnit(*junit, recs); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		// Interrupted while judging the last gate: its record says
		// cancelled, and the run is not complete.
		_ = w.Interrupt(fmt.Sprintf("interrupted: %v", err))
		return err
	}
	// The backends report device problems at Close (with
	// FALSIFY_VULKAN_VALIDATE=1, the validation layer's messages): a run
	// whose backends did is not complete evidence, and the gate refuses it.
	if err := r.Close(); err != nil {
		_ = w.Interrupt(fmt.Sprintf("closing the models' backends: %v", err))
		return fmt.Errorf("run: closing the models' backends: %w", err)
	}
	rep, err = w.Finish(time.Now())
	if err != nil {
		return err
	}
	finished = true
	if key != nil {
		if _, err := evidence.SignRun(*out, rep, key); err != nil {
			return err
		}
	}
	// summary.md covers every record in the directory, other runs' too.
	if _, err := evidence.UpdateSummary(ctx, *out); err != nil {
		return err
	}
	if err := printReport(stdout, rep, *asJSON); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "run: %s; evidence in %s\n", rep.Counts, *out)
	if !rep.PassedAllowing(*allowSkip, unavailable) {
		return verdictExit(rep.Counts)
	}
	return nil
}

func countGates(cs []*contracts.Contract) int {
	n := 0
	for _, c := range cs {
		n += len(c.FalsificationTests)
	}
	return n
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
