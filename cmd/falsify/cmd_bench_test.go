package main

import (
	"encoding/json"
	"testing"

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
