package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/falsify/falsify/evidence"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"

	"github.com/falsify/falsify/engine"
)

// command is one subcommand. run gets the arguments after the subcommand
// name; data goes to stdout, progress and logs to stderr.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the cmd_*.go files' init functions.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("falsify: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

// usageError marks an error as a usage mistake (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError carries a chosen exit status without printing anything more
// (used by commands like gate whose verdict is the exit status).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// verdictExit is the exit status of run and gate when their gates did not
// all pass: 3 when nothing FAILed but some gate could not be measured
// (ERROR: a broken setup, such as a missing model), else 1.
func verdictExit(c evidence.Counts) exitError {
	if c.Fail == 0 && c.Error > 0 {
		return exitError{3}
	}
	return exitError{1}
}

// verdictError is an error that is a verdict (exit 1), printed as is.
type verdictError struct{ err error }

func (e verdictError) Error() string { return e.err.Error() }
func (e verdictError) Unwrap() error { return e.err }

// Exit statuses (COMMON convention, printed by `falsify help`).
const (
	exitPass    = 0 // success; every gate passed
	exitVerdict = 1 // a verdict says no: FAIL, BLOCKED, ERROR, un-allowed SKIP
	exitUsage   = 2 // bad flags or arguments
	exitSetup   = 3 // broken setup or invalid input that prevents judging
)

// verdictCommands are commands whose whole answer is a verdict on their
// input: anything that stops them from proving a pass (missing, corrupt or
// inconsistent evidence) is a "no" (exit 1), not a broken setup.
var verdictCommands = map[string]bool{"gate": true}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(profiled(os.Getenv("FALSIFY_CPUPROFILE"), func() error {
		return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}), os.Stderr))
}

// profiled runs f under Go's CPU profiler writing to path
// (FALSIFY_CPUPROFILE, for `go tool pprof`), or just runs f when path is
// empty. A profile that cannot be written is an error naming the variable
// and the file (broken setup: exit 3), and f does not run.
func profiled(path string, f func() error) error {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("FALSIFY_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return fmt.Errorf("FALSIFY_CPUPROFILE=%s: %w", path, err)
	}
	ferr := f()
	pprof.StopCPUProfile()
	if err := out.Close(); err != nil && ferr == nil {
		return fmt.Errorf("FALSIFY_CPUPROFILE: %w", err)
	}
	return ferr
}

// exitCode maps run's error to the exit status, printing it. An error that
// is neither a verdict (exitError) nor a usage mistake is a broken setup:
// an unreadable model, an invalid contract, an unwritable directory.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var ee exitError
	var ve verdictError
	switch {
	case err == nil:
		return exitPass
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ve):
		fmt.Fprintln(stderr, "falsify:", err)
		return exitVerdict
	case errors.Is(err, flag.ErrHelp):
		return exitPass
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "falsify:", err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "falsify:", err)
		return exitSetup
	}
}

// run dispatches to the subcommand named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			// `falsify help run` is `falsify run -h`.
			if _, ok := commands[args[1]]; !ok {
				printUsage(stderr)
				return usagef("help: unknown command %q", args[1])
			}
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		printUsage(stdout)
		return nil
	case "--version", "-version", "version":
		if len(args) > 1 {
			return usagef("%s takes no arguments", args[0])
		}
		fmt.Fprintln(stdout, versionString())
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		printUsage(stderr)
		return usagef("unknown command %q (run 'falsify help')", args[0])
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var ue usageError
	var ee exitError
	if err != nil && verdictCommands[args[0]] && !errors.As(err, &ue) && !errors.As(err, &ee) && !errors.Is(err, flag.ErrHelp) {
		return verdictError{err}
	}
	return err
}

// versionString names the binary's module version, VCS revision (when
// built from a checkout) and engine numerics version.
func versionString() string {
	version, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	out := "falsify " + version
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " " + rev
		if dirty {
			out += "+dirty"
		}
	}
	return out + " (" + engine.Version + ")"
}

// envHelp lists the environment variables falsify reads.
const envHelp = `Environment:
  FALSIFY_GGUF_MODEL  model for the contracts' "gguf" subjects (default: builtin:qwen2-tiny-q4_k_m.gguf)
  FALSIFY_APR_MODEL   model for "apr" subjects (default: the GGUF subject converted to APR)
  FALSIFY_F32_MODEL   model for "f32" subjects (default: builtin:qwen2-tiny-q4_k_m-as-f32.gguf)
  FALSIFY_GOLDEN      llama.cpp golden trace for "golden" subjects (default: builtin:qwen2-tiny-q4_k_m.golden)
  FALSIFY_CONTRACTS   contract file or directory the Ginkgo suites run (default: the builtin contracts)
  FALSIFY_CACHE       cache directory for builtin models and APR conversions
                      (default: the user cache directory's falsify/)
  FALSIFY_NODE_LLAMA_CPP  node-llama-cpp install for llama.cpp subjects (default: ~/.cache/falsify/node-llama-cpp)
  FALSIFY_LLAMACPP_CPU    ggml CPU variant to load for them (zen4, haswell, ...; default: ggml's choice)
  FALSIFY_VULKAN_DEVICE   Vulkan device index (vkEnumeratePhysicalDevices order, see 'falsify backends')
                          for the engine's vulkan backend (default: a discrete GPU, then integrated,
                          virtual, CPU) and for backend: vulkan llama.cpp subjects (default 0)
  FALSIFY_VULKAN_VALIDATE 1: the engine's vulkan backend enables the Khronos validation layer;
                          trace, diff and run fail on any message it reports (docs/gpu.md)
  FALSIFY_REQUIRE_VULKAN  1: the cpu-vs-gpu suite fails, rather than SKIPs, without a Vulkan device (CI)
  FALSIFY_ALLOW_COMMANDS  1: run command gates and command subjects (as run --allow-commands)
  FALSIFY_CPUPROFILE      write a Go CPU profile of the command to this file (go tool pprof -top FILE)
  A contract's subjects name the variables they read: model: ${VAR:-default}.
`

// exitCodesHelp lists the exit statuses.
const exitCodesHelp = `Exit status:
  0  success; for run and gate: every gate PASSed
  1  a verdict says no: a FAIL or BLOCKED gate, or (without --allow-skip) a
     SKIP; validate: a contract has an error finding; gate: evidence that
     does not prove a pass (missing, incomplete, tampered)
  2  usage error: bad flags or arguments
  3  broken setup or invalid input that prevents judging: an invalid contract
     given to run, an unreadable model, an unwritable output, an I/O failure,
     a bad key; for run and gate also: no gate FAILed but some could not be
     measured (ERROR, e.g. a model file that is missing)
`

func printUsage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("falsify: falsification contracts for LLM inference engines\n\nUsage: falsify COMMAND [options]\n\nCommands:\n")
	for _, name := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", name, commands[name].summary)
	}
	b.WriteString("  help       show a command's options: falsify help COMMAND\n")
	b.WriteString("  version    print the version\n")
	b.WriteString("\nModel arguments take a file or builtin:NAME (see 'falsify models').\n")
	b.WriteString("User guide: docs/README.md in the repository.\n\n")
	b.WriteString(envHelp)
	b.WriteString("\n")
	b.WriteString(exitCodesHelp)
	b.WriteString("\nRun 'falsify help COMMAND' or 'falsify COMMAND -h' for a command's options.\n")
	io.WriteString(w, b.String())
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its usage (with the given synopsis) to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: falsify %s\n\nOptions:\n", synopsis)
		printFlags(stderr, fs)
		fmt.Fprint(stderr, "\n"+exitCodesHelp)
	}
	return fs
}

// printFlags lists the flags as people type them: --long-name, -x for
// one-letter aliases (flag.PrintDefaults writes every name with one dash).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		kind, usage := flag.UnquoteUsage(f)
		line := "  " + dash + f.Name
		if kind != "" {
			line += " " + kind
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "[]" && def != "map[]" {
			usage += fmt.Sprintf(" (default %q)", def)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// parseFlags parses args, turning flag errors into usage errors. Flags may
// come before or after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// isSet reports whether any of the named flags was given on the command
// line (so `-p ""` differs from no -p at all).
func isSet(fs *flag.FlagSet, names ...string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			if f.Name == n {
				set = true
			}
		}
	})
	return set
}

// checkThreads refuses a negative thread count (0 means all cores).
func checkThreads(n int) error {
	if n < 0 {
		return usagef("--threads %d: want 0 (all cores) or a positive count", n)
	}
	return nil
}

// checkContext refuses more tokens than the model's trained context
// (n_ctx from its metadata; 0 means the file does not say).
func checkContext(model string, nTokens, nCtx int) error {
	if nTokens == 0 {
		return usagef("no tokens to run (the prompt tokenizes to nothing)")
	}
	if nCtx > 0 && nTokens > nCtx {
		return usagef("%d tokens exceed %s's context length of %d (its n_ctx_train)", nTokens, model, nCtx)
	}
	return nil
}
