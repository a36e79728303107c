package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/internal/filelock"
)

func init() {
	register("convert", "convert a GGUF model to APR v2 as aprender's importer does", runConvert)
}

// progressThreshold is the tensor data size above which convert reports
// progress by default: below it the whole conversion takes well under a
// second.
const progressThreshold = 256 << 20

// convertSummary is what convert prints (--json: as JSON).
type convertSummary struct {
	Input       string             `json:"input"`
	Output      string             `json:"output"`
	InputBytes  int64              `json:"input_bytes"`
	OutputBytes int64              `json:"output_bytes"`
	Seconds     float64            `json:"seconds"`
	Report      *apr.ConvertReport `json:"conversion"`
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", "convert [--json] [--f32] [--force] [--progress auto|always|never] MODEL.gguf OUT.apr\n\n"+
		"MODEL may be builtin:NAME (see 'falsify models'). OUT is written atomically (a hidden\n"+
		"temporary file renamed at the end); an existing OUT that is not an APR file is kept\n"+
		"unless --force. Temporary files left by a killed conversion to the same OUT are\n"+
		"removed before writing; Ctrl-C or SIGTERM removes the current one.", stderr)
	force := fs.Bool("force", false, "overwrite OUT even when it exists and is not an APR file")
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout")
	progress := fs.String("progress", "auto", "progress on stderr: auto (models over 256 MiB), always or never")
	forceF32 := fs.Bool("f32", false, "dequantize every tensor to F32 even when all types could be copied")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("convert takes a GGUF model and an output path, got %d arguments", len(pos))
	}
	if *progress != "auto" && *progress != "always" && *progress != "never" {
		return usagef("--progress %q: want auto, always or never", *progress)
	}
	in, out := pos[0], pos[1]
	if filepath.Clean(in) == filepath.Clean(out) {
		return usagef("convert: the output %s would overwrite the input", out)
	}
	if err := checkConvertTarget(out, *force); err != nil {
		return err
	}
	start := time.Now()
	inPath, err := modelArg(in)
	if err != nil {
		return err
	}
	g, err := gguf.Open(inPath)
	if err != nil {
		return err
	}
	defer g.Close()
	w, rep, err := apr.FromGGUFWith(g, apr.ConvertOptions{ForceF32: *forceF32})
	if err != nil {
		return err
	}
	if len(rep.FallbackTypes) > 0 {
		fmt.Fprintf(stderr, "%s: %s cannot be stored in APR; dequantizing every tensor to F32, as aprender's importer does\n", in, strings.Join(rep.FallbackTypes, ", "))
	}
	var outBytes uint64
	for _, t := range w.Tensors() {
		outBytes += t.Size
	}
	var done func()
	if *progress == "always" || (*progress == "auto" && outBytes > progressThreshold) {
		w.Progress, done = progressPrinter(ctx, stderr, in, outBytes)
	} else {
		w.Progress, done = func(int, int, string, int64) error { return ctx.Err() }, func() {}
	}
	// The target directory's lock keeps two converts from removing each
	// other's temporary file; holding it, any temporary file for OUT is a
	// leftover of a killed conversion.
	lock, err := filelock.Exclusive(ctx, filepath.Dir(filepath.Clean(out)))
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer lock.Unlock()
	removeStaleTemps(out, stderr)
	n, err := w.WriteFile(out)
	if err != nil {
		return fmt.Errorf("convert: %s: %w", out, err)
	}
	done()
	sum := convertSummary{Input: in, Output: out, InputBytes: g.Size(), OutputBytes: n, Seconds: time.Since(start).Seconds(), Report: rep}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	printConvertSummary(stdout, &sum)
	return nil
}

// checkConvertTarget refuses to replace anything but an APR file unless
// force: a mistyped output path must not eat a user's file.
func checkConvertTarget(out string, force bool) error {
	st, err := os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("convert: %w", err)
	case st.IsDir():
		return usagef("convert: the output %s is a directory", out)
	case force:
		return nil
	}
	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err == nil && (magic == apr.Magic || magic == apr.MagicAPR2) {
		return nil
	}
	return usagef("convert: %s exists and is not an APR file; give --force to overwrite it", out)
}

// removeStaleTemps deletes the temporary files apr.Writer.WriteFile names
// after out (".OUT.tmp-*"). The caller holds the directory's lock, so no
// live conversion owns them: they are what a killed one left behind.
func removeStaleTemps(out string, stderr io.Writer) {
	pattern := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	stale, _ := filepath.Glob(pattern)
	for _, p := range stale {
		if err := os.Remove(p); err == nil {
			fmt.Fprintf(stderr, "convert: removed %s, left by an interrupted conversion\n", p)
		}
	}
}

// progressPrinter reports, at most about once a second, which tensor is
// being written, the tensor bytes written of the total (never past it),
// the time spent and an estimate of the time left. done prints the final
// line. Writing stops when ctx is cancelled.
func progressPrinter(ctx context.Context, stderr io.Writer, in string, total uint64) (progress func(int, int, string, int64) error, done func()) {
	start := time.Now()
	var last time.Time
	var base int64 = -1 // file bytes before the first tensor
	var tensors int
	report := func(i, n int, name string, data uint64) {
		elapsed := time.Since(start)
		line := fmt.Sprintf("convert: %s: tensor %d/%d %s: %s of %s", in, i, n, name, humanBytes(data), humanBytes(total))
		if total > 0 {
			line += fmt.Sprintf(" (%d%%)", data*100/total)
		}
		line += fmt.Sprintf(", %s elapsed", elapsed.Round(time.Second))
		if data > 0 && data < total {
			left := time.Duration(float64(elapsed) * float64(total-data) / float64(data))
			line += fmt.Sprintf(", about %s left", left.Round(time.Second))
		}
		fmt.Fprintln(stderr, line)
	}
	progress = func(i, n int, name string, written int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if base < 0 {
			base = written
		}
		tensors = n
		if time.Since(last) < time.Second {
			return nil
		}
		last = time.Now()
		report(i+1, n, name, min(uint64(max(written-base, 0)), total))
		return nil
	}
	done = func() { report(tensors, tensors, "done", total) }
	return progress, done
}

func printConvertSummary(w io.Writer, s *convertSummary) {
	r := s.Report
	fmt.Fprintf(w, "%s -> %s: %d tensors, %s in %s, %s out, %.2fs\n", s.Input, s.Output, len(r.Tensors), r.Arch, humanBytes(uint64(s.InputBytes)), humanBytes(uint64(s.OutputBytes)), s.Seconds)
	fmt.Fprintf(w, "GGUF types: %s\n", typeCounts(r.SourceTypes))
	fmt.Fprintf(w, "APR types:  %s\n", typeCounts(r.OutputTypes))
	switch {
	case len(r.FallbackTypes) > 0:
		fmt.Fprintf(w, "F32 fallback: APR cannot store %s, so every tensor was dequantized to F32 (aprender's importer fallback); the APR model's numbers differ from the GGUF engine's quantized path\n", strings.Join(r.FallbackTypes, ", "))
	case r.Fallback:
		fmt.Fprintln(w, "every tensor dequantized to F32 (--f32)")
	default:
		fmt.Fprintln(w, "tensors copied byte for byte")
	}
	if r.HFNames {
		fmt.Fprintf(w, "names: Hugging Face (%s)\n", r.Arch)
	} else {
		fmt.Fprintln(w, "names: as in the GGUF file")
	}
	if r.TiedEmbeddings {
		fmt.Fprintln(w, "tied embeddings: lm_head.weight written as a copy of the token embedding")
	}
}

func typeCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	parts := make([]string, 0, len(keys))
	for _, k := range sortedStrings(keys) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
