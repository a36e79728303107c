package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/falsify/falsify/engine"
)

func init() {
	register("backends", "list the engine's backends and whether each has a device here", runBackends)
}

func runBackends(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backends", "backends [--json]\n\n"+
		"Lists the backends this build of the engine registers (the values of trace --backend,\n"+
		"diff --backend-a/--backend-b and a contract subject's backend:) and opens each without a\n"+
		"model to say what it would compute on here: the CPU, or the GPU the vulkan backend picks\n"+
		"(FALSIFY_VULKAN_DEVICE=N picks one; see docs/gpu.md), or why it cannot run (no Vulkan\n"+
		"loader, no driver, no device). A subject on an unavailable backend SKIPs with that reason.\n"+
		"The exit status is 0 whichever are available.", stderr)
	asJSON := fs.Bool("json", false, "print JSON (docs/schemas/backends.schema.json)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("backends takes no arguments, got %d", len(pos))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	list := engine.ProbeBackends()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tDEFAULT\tAVAILABLE\tDEVICE / PROBLEM")
	for _, b := range list {
		def, avail, what := "", "yes", b.Device
		if b.Default {
			def = "yes"
		}
		if !b.Available {
			avail, what = "no", b.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Name, def, avail, what)
	}
	return tw.Flush()
}
