package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/llamalib"
)

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "-t", "0"},
		{"bench", "--prompt", "7,x"},
		{"bench", "--shape", "qwen2-70b"},
		{"bench", "--rounds", "0"},
		{"bench", "extra"},
		// Checked before the first shape is generated.
		{"bench", "--shape", "qwen2-0.5b,qwen2-70b"},
		// --model replaces the shapes; a --shape beside it was ignored.
		{"bench", "--model", "builtin:qwen2-tiny-q4_k_m.gguf", "--shape", "qwen2-0.5b", "--no-llamacpp"},
		// Past the tiny model's 2048-token context (ran for hours).
		{"bench", "--model", "builtin:qwen2-tiny-q4_k_m.gguf", "--prompt", "100000", "--no-llamacpp", "-t", "1"},
		{"bench", "--model", "builtin:qwen2-tiny-q4_k_m.gguf", "--prompt", "3", "--gen", "4096", "--no-llamacpp", "-t", "1"},
	} {
		if _, errs, code := runCLI(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errs)
		}
	}
}

// The bench times every test the flags ask for, each round, and compares
// with llama.cpp's same test when the library is installed.
func TestBenchRuns(t *testing.T) {
	const model = "builtin:qwen2-tiny-q4_k_m.gguf"
	check := func(t *testing.T, llama bool, args ...string) {
		out, errs, code := runCLI(t, append([]string{"bench", "--model", model, "--json", "-t", "1,2", "--prompt", "3", "--gen", "2", "--rounds", "2"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var r benchReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		var tests []string
		for _, row := range r.Rows {
			tests = append(tests, row.label())
			if len(row.Falsify) != 2 {
				t.Errorf("%s: %d falsify runs, want 2", row.label(), len(row.Falsify))
			}
			for _, ms := range row.Falsify {
				if ms <= 0 {
					t.Errorf("%s: falsify time %v", row.label(), ms)
				}
			}
			if llama != (len(row.LlamaCpp) == 2 && row.Ratio > 0) {
				t.Errorf("%s: llama.cpp runs %v, ratio %v (llama.cpp expected: %v)", row.label(), row.LlamaCpp, row.Ratio, llama)
			}
		}
		want := []string{"pp3", "pp3 traced", "tg2", "pp3", "pp3 traced", "tg2"}
		if len(tests) != len(want) {
			t.Fatalf("tests %q, want %q", tests, want)
		}
		for i := range want {
			if tests[i] != want[i] || r.Rows[i].Threads != 1+i/3 {
				t.Fatalf("tests %q, want %q at 1 then 2 threads", tests, want)
			}
		}
	}
	t.Run("falsify alone", func(t *testing.T) { check(t, false, "--no-llamacpp") })
	t.Run("with llama.cpp", func(t *testing.T) {
		if _, err := llamalib.Version(); err != nil {
			t.Skipf("llama.cpp library not installed (%v)", err)
		}
		check(t, true)
	})
}

// The generated models take llama-quantize's Q4_K_M choices (Qwen2-0.5B:
// 24 layers, rows of 896 or 4864 elements).
func TestBenchQ4KMLike(t *testing.T) {
	pick := q4KMLike(24, true)
	for _, tc := range []struct {
		name string
		cols int
		want quant.Type
	}{
		{"token_embd.weight", 896, quant.Q8_0},  // Q6_K, falls back
		{"token_embd.weight", 1536, quant.Q6_K}, // tied: the output
		{"blk.0.attn_v.weight", 896, quant.Q8_0},
		{"blk.4.attn_v.weight", 896, quant.Q5_0}, // Q4_K, falls back
		{"blk.5.attn_v.weight", 1536, quant.Q6_K},
		{"blk.0.ffn_down.weight", 4864, quant.Q6_K},
		{"blk.4.ffn_down.weight", 4864, quant.Q4_K},
		{"blk.23.ffn_down.weight", 4864, quant.Q6_K},
		{"blk.7.attn_q.weight", 1536, quant.Q4_K},
	} {
		if got := pick(tc.name, 1, tc.cols); got != tc.want {
			t.Errorf("%s of %d columns: %s, want %s", tc.name, tc.cols, got, tc.want)
		}
	}
	if got := q4KMLike(28, false)("token_embd.weight", 1, 3584); got != quant.Q4_K {
		t.Errorf("untied token_embd: %s, want Q4_K", got)
	}
}

// runCLICtx is runCLI with ctx (to interrupt a command).
func runCLICtx(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(ctx, args, &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

// cancelledCtx is a context already cancelled with cause.
func cancelledCtx(cause error) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	return ctx
}

// validateJSON checks that out is JSON valid against s.
func validateJSON(t *testing.T, s *jsonschema.Schema, out string) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("not JSON: %v\n%.300s", err, out)
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("does not match its schema:\n%v\n%s", err, out)
	}
}

// cancelOn is a writer that cancels a context (with cause) the first time
// what it was written contains mark; it keeps everything written.
type cancelOn struct {
	buf    bytes.Buffer
	mark   string
	cancel context.CancelCauseFunc
	cause  error
}

func (w *cancelOn) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.mark) {
		w.cancel(w.cause)
	}
	return n, err
}

// TestBenchPrintsRowsAsTheyFinish: in text mode each row is on stdout as
// soon as it is final: interrupted right after the first row is written,
// the run stops before the next test, stdout holds that row, the table
// header and a line naming the interruption, and the exit is 3 with the
// cause in the error.
func TestBenchPrintsRowsAsTheyFinish(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stdout := &cancelOn{mark: "pp3 ", cancel: cancel, cause: errors.New("interrupt signal received")}
	var stderr bytes.Buffer
	err := run(ctx, []string{"bench", "--no-llamacpp", "--model", "builtin:qwen2-tiny-q4_k_m.gguf", "-t", "1,2", "--prompt", "3", "--gen", "2", "--rounds", "2"}, stdout, &stderr)
	code := exitCode(err, &stderr)
	out := stdout.buf.String()
	if code != 3 {
		t.Fatalf("exit %d, want 3; stdout %s; stderr %s", code, out, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted (interrupt signal received): 1 of 6 rows finished") {
		t.Errorf("stderr does not name the interruption and the rows: %s", stderr.String())
	}
	var rows []string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "qwen2-tiny") {
			rows = append(rows, line)
		}
	}
	if len(rows) != 1 || !strings.Contains(rows[0], "pp3 ") || strings.Contains(rows[0], "traced") {
		t.Errorf("rows %q, want the one finished pp3 row", rows)
	}
	if !strings.Contains(out, "falsify") || !strings.Contains(out, "interrupted (interrupt signal received): 1 of 6 rows finished") {
		t.Errorf("stdout lacks the header or the interruption line:\n%s", out)
	}
}

// TestBenchJSONInterrupted: --json interrupted after the first thread
// count's rounds gives those rows (each with every round), interrupted
// true with the cause, valid against the schema, and exit 3.
func TestBenchJSONInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stderr := &cancelOn{mark: "2 threads: warm-up run", cancel: cancel, cause: errors.New("terminated signal received")}
	var stdout bytes.Buffer
	err := run(ctx, []string{"bench", "--json", "--no-llamacpp", "--model", "builtin:qwen2-tiny-q4_k_m.gguf", "-t", "1,2", "--prompt", "3", "--gen", "2", "--rounds", "2"}, &stdout, stderr)
	if code := exitCode(err, stderr); code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, stderr.buf.String())
	}
	var r benchReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	if !r.Interrupted || r.InterruptedBy != "terminated signal received" {
		t.Errorf("interrupted %v by %q, want true by the cause", r.Interrupted, r.InterruptedBy)
	}
	var tests []string
	for _, row := range r.Rows {
		tests = append(tests, row.label())
		if row.Threads != 1 || len(row.Falsify) != 2 {
			t.Errorf("%s: %d threads, %d runs; want the finished 1-thread rows of 2 runs", row.label(), row.Threads, len(row.Falsify))
		}
	}
	if want := []string{"pp3", "pp3 traced", "tg2"}; !slices.Equal(tests, want) {
		t.Errorf("rows %q, want %q", tests, want)
	}
	validateJSON(t, compileSchema(t, filepath.Join("..", "..", "docs", "schemas", "bench.schema.json")), stdout.String())
}

// TestBenchTableAligns: a model name and a test label longer than the
// default columns (builtin:qwen2-tiny-q4_k_m.gguf, "pp100 traced") still
// give rows whose columns line up under the header's.
func TestBenchTableAligns(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "--no-llamacpp", "--model", "builtin:qwen2-tiny-q4_k_m.gguf", "-t", "1", "--prompt", "3,100", "--gen", "0", "--rounds", "1"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	var header string
	rows := 0
	for _, line := range strings.Split(stdout.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "model "):
			header = line
		case header != "" && strings.TrimSpace(line) != "":
			rows++
			// The threads count ends where the header's "threads" ends,
			// and the falsify time ends where "falsify" does.
			for _, col := range []string{"threads", "falsify"} {
				end := strings.Index(header, col) + len(col)
				if end > len(line) || line[end-1] == ' ' || (end < len(line) && line[end] != ' ') {
					t.Errorf("column %q ends at %d in the header, but the row %q has no value ending there", col, end, line)
				}
			}
		}
	}
	if header == "" || rows != 4 {
		t.Fatalf("want a header and 4 rows, got:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "1 thread: warm-up run") || !strings.Contains(stderr.String(), "1 thread: round 1 of 1") {
		t.Errorf("progress lines: %s", stderr.String())
	}
}
