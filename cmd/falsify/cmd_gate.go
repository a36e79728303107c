package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/evidence"
)

func init() {
	register("gate", "release gate: exit 0 only if every gate in the evidence passed", runGate)
}

func runGate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gate", "gate [--allow-skip] [--allow-unavailable BACKEND,...] [--json] [--verify-key PUB.pem] DIR [DIR ...]\n\n"+
		"Reads every gate record and run report under each DIR (recursively), merges them\n"+
		"(a gate seen twice keeps its latest record), prints the summary table and exits 0\n"+
		"only if every gate PASSed and the evidence proves it: every run complete (an\n"+
		"interrupted run leaves a report marked running or interrupted), every gate the\n"+
		"contract declares present, every record's sha256 matching its run report, every\n"+
		"verdict agreeing with its measurements, one contract version and one model set\n"+
		"per contract (several runs of one contract only as named shards, `falsify run\n"+
		"--shard NAME --gate ID`, that together judge every gate). Each problem is\n"+
		"printed with the file it concerns; --verify-key also requires every run signed\n"+
		"(`falsify run --sign-key`). An empty directory is an error, never a pass.", stderr)
	allowSkip := fs.Bool("allow-skip", false, "count SKIP (a subject that cannot run here, e.g. no GPU) as passing")
	allowUnavailable := fs.String("allow-unavailable", "", "count as passing only the SKIPs whose subject's engine backend is missing here\n"+
		"(comma-separated `BACKENDS`, e.g. vulkan: no Vulkan device or driver); every other SKIP still\n"+
		"fails, and one gate must still PASS. `make falsify` passes vulkan")
	asJSON := fs.Bool("json", false, "print the merged run report as JSON instead of the Markdown table")
	verifyKey := fs.String("verify-key", "", "ed25519 public key (PEM, PKIX) every run's report must be signed with ('falsify run --sign-key'; value: `FILE`); unsigned or tampered evidence fails")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("gate needs an evidence directory")
	}
	unavailable, err := backendList("--allow-unavailable", *allowUnavailable)
	if err != nil {
		return err
	}
	warnUnregistered(stderr, "--allow-unavailable", unavailable)
	var opts evidence.VerifyOptions
	if *verifyKey != "" {
		if opts.Key, err = evidence.LoadVerifyKey(*verifyKey); err != nil {
			// A bad key is a broken setup (3), as it is for run --sign-key.
			fmt.Fprintf(stderr, "falsify: gate: --verify-key: %v\n", err)
			return exitError{3}
		}
	}
	problems, vnotes, verr := evidence.VerifyWith(opts, pos...)
	ev, err := loadEvidence(ctx, "gate", pos)
	if err != nil {
		// A run killed before its first record leaves only its report
		// marked running: say so rather than only "no evidence".
		for _, p := range problems {
			fmt.Fprintln(stderr, "gate: evidence problem:", p)
		}
		return err
	}
	if verr != nil {
		return fmt.Errorf("gate: %w", verr)
	}
	rep := ev.Report()
	if err := printReport(stdout, rep, *asJSON); err != nil {
		return err
	}
	for _, n := range append(rep.Notes, vnotes...) {
		fmt.Fprintln(stderr, "gate: note:", n)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "gate: evidence problem:", p)
		}
		fmt.Fprintf(stderr, "gate: FAIL: the evidence does not prove a pass (%d problems above); verdicts read: %s\n", len(problems), rep.Counts)
		return exitError{1}
	}
	if rep.PassedAllowing(*allowSkip, unavailable) {
		fmt.Fprintf(stderr, "gate: pass: %s\n", rep.Counts)
		return nil
	}
	hint := ""
	if !*allowSkip && rep.Counts.Skip > 0 && rep.Counts.Skip+rep.Counts.Pass == rep.Counts.Total() {
		hint = " (SKIP passes only with --allow-skip" + unavailableHint(rep) + ")"
	}
	if (*allowSkip || len(unavailable) > 0) && rep.Counts.Pass == 0 && rep.Counts.Skip == rep.Counts.Total() {
		hint = " (every gate SKIPped: --allow-skip and --allow-unavailable still need one gate that ran and PASSed)"
	}
	fmt.Fprintf(stderr, "gate: FAIL: %d of %d gates did not pass: %s%s\n",
		rep.Counts.Total()-rep.Counts.Pass, rep.Counts.Total(), rep.Counts, hint)
	return verdictExit(rep.Counts)
}

// backendList parses a comma-separated list of backend names (the flag
// is named in errors).
func backendList(flag, v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		name := strings.TrimSpace(f)
		if !contracts.ValidBackendName(name) {
			return nil, usagef("%s %q: %q is not a backend name (lowercase letters, digits, '_' or '-', e.g. vulkan)", flag, v, name)
		}
		out = append(out, name)
	}
	return out, nil
}

// warnUnregistered tells, on stderr, which names of flag's list this build
// does not register as a backend: no SKIP of its own runs can match them
// (evidence from a build with other backends still can, so it is not an
// error). Near misses get a "did you mean".
func warnUnregistered(stderr io.Writer, flag string, names []string) {
	registered := backend.Names()
	for _, name := range names {
		if slices.Contains(registered, name) {
			continue
		}
		hint := ""
		if n := nearest(name, registered); n != "" {
			hint = fmt.Sprintf("; did you mean %q?", n)
		}
		fmt.Fprintf(stderr, "falsify: warning: %s: %q is not a backend this build registers (%s)%s\n", flag, name, strings.Join(registered, ", "), hint)
	}
}

// unavailableHint names, for the hint of a failed gate, the backends
// whose absence made gates SKIP (", or --allow-unavailable vulkan").
func unavailableHint(rep *evidence.RunReport) string {
	var names []string
	for _, g := range rep.Gates {
		if g.Verdict == evidence.Skip && g.UnavailableBackend != "" && !slices.Contains(names, g.UnavailableBackend) {
			names = append(names, g.UnavailableBackend)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return ", or those of a missing backend with --allow-unavailable " + strings.Join(names, ",")
}

// loadEvidence loads and merges the evidence under each directory.
func loadEvidence(ctx context.Context, cmd string, dirs []string) (*evidence.Evidence, error) {
	var parts []*evidence.Evidence
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ev, err := evidence.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		parts = append(parts, ev)
	}
	return evidence.Merge(parts...), nil
}

// printReport writes a run report as indented JSON or as the Markdown table.
func printReport(w io.Writer, rep *evidence.RunReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err := io.WriteString(w, evidence.Markdown(rep))
	return err
}
