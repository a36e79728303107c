package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/falsify/falsify/evidence"
)

func init() {
	register("report", "render evidence directories as one HTML page (or a Markdown table)", runReport)
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "report DIR [DIR ...] [--html out.html]\n\n"+
		"Reads every gate record and run report under each DIR (recursively) and merges them.\n"+
		"With --html, writes one self-contained page: every gate's verdict, measured values,\n"+
		"per-layer charts (inline SVG) and provenance. Without it, prints the Markdown table.", stderr)
	htmlOut := fs.String("html", "", "write the HTML page to this file (- for stdout)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("report needs an evidence directory")
	}
	ev, err := loadEvidence(ctx, "report", pos)
	if err != nil {
		return err
	}
	// A report renders what the records say; it must not make evidence
	// that `falsify gate` refuses (incomplete, edited) look clean.
	problems, _, verr := evidence.VerifyWith(evidence.VerifyOptions{}, pos...)
	if verr == nil && len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "report: warning: evidence problem:", p)
		}
		ev.Notes = append([]string{fmt.Sprintf("THE EVIDENCE DOES NOT VERIFY (falsify gate refuses it): %d problem(s), the first: %s", len(problems), problems[0])}, ev.Notes...)
	}
	if *htmlOut == "" {
		rep := ev.Report()
		var b strings.Builder
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "> %s\n\n", n)
		}
		b.WriteString(evidence.Markdown(rep))
		_, err := io.WriteString(stdout, b.String())
		return err
	}
	page, err := evidence.HTML(ev)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if *htmlOut == "-" {
		_, err := stdout.Write(page)
		return err
	}
	if err := evidence.WriteFileAtomic(*htmlOut, page); err != nil {
		return fmt.Errorf("report: cannot write %s: %w", *htmlOut, withoutTempPath(err))
	}
	fmt.Fprintf(stderr, "report: wrote %s (%d gates, %s)\n", *htmlOut, len(ev.Report().Gates), ev.Report().Counts)
	return nil
}

// withoutTempPath drops the path from a file-system error: the atomic
// write's temporary file (".tmp-out.html-123") means nothing to the user,
// whose target the caller names instead.
func withoutTempPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
