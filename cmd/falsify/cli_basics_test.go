package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionAndHelp: --version/version print the engine version; `help
// CMD` prints that command's options, not the top-level list; the
// top-level help lists the environment variables and exit statuses.
func TestVersionAndHelp(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		out, errs, code := runCLI(t, arg)
		if code != 0 || !strings.HasPrefix(out, "falsify ") || !strings.Contains(out, "falsify-engine/") {
			t.Errorf("%s: exit %d, %q %q", arg, code, out, errs)
		}
	}
	_, errs, code := runCLI(t, "help", "run")
	if code != 0 || !strings.Contains(errs, "Usage: falsify run") || strings.Contains(errs, "Commands:") {
		t.Errorf("help run: exit %d\n%s", code, errs)
	}
	if _, _, code := runCLI(t, "help", "no-such-command"); code != 2 {
		t.Errorf("help no-such-command: exit %d, want 2", code)
	}
	out, _, code := runCLI(t, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, want := range []string{"FALSIFY_GGUF_MODEL", "FALSIFY_APR_MODEL", "FALSIFY_F32_MODEL", "FALSIFY_GOLDEN", "FALSIFY_CACHE", "FALSIFY_CONTRACTS", "Exit status:", "3  broken setup", "models", "docs/"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// TestBuiltinModelArguments: builtin:NAME works wherever a model path
// does, `models` lists every builtin, and an unknown one is a usage error
// that names what exists.
func TestBuiltinModelArguments(t *testing.T) {
	out, errs, code := runCLI(t, "models", "--json")
	if code != 0 {
		t.Fatalf("models: exit %d: %s", code, errs)
	}
	var list []builtinModel
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, m := range list {
		refs[m.Ref] = true
		if len(m.SHA256) != 64 || m.Bytes <= 0 || m.About == "" {
			t.Errorf("models: incomplete row %+v", m)
		}
	}
	for _, want := range []string{"builtin:qwen2-tiny-q4_k_m.gguf", "builtin:qwen2-tiny-q4_k_m-as-f32.gguf", "builtin:qwen2-tiny-q4_k_m.golden"} {
		if !refs[want] {
			t.Errorf("models lacks %s", want)
		}
	}
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	out, errs, code = runCLI(t, "inspect", m)
	if code != 0 || !strings.HasPrefix(out, m+": GGUF v3") || !strings.Contains(out, "15 (Q4_K - Medium)") {
		t.Errorf("inspect %s: exit %d: %s\n%.300s", m, code, errs, out)
	}
	if out, errs, code := runCLI(t, "tokenize", m, "Hello"); code != 0 || out == "" {
		t.Errorf("tokenize %s: exit %d: %s", m, code, errs)
	}
	if _, errs, code := runCLI(t, "trace", "-t", "2", "--tokens", "1,2", m); code != 0 {
		t.Errorf("trace %s: exit %d: %s", m, code, errs)
	}
	if _, errs, code := runCLI(t, "diff", "-t", "2", "--tokens", "1,2", m, "builtin:qwen2-tiny-q4_k_m-as-f32.gguf"); code != 0 {
		t.Errorf("diff builtins: exit %d: %s", code, errs)
	}
	if _, errs, code := runCLI(t, "convert", m, filepath.Join(t.TempDir(), "m.apr")); code != 0 {
		t.Errorf("convert %s: exit %d: %s", m, code, errs)
	}
	_, errs, code = runCLI(t, "inspect", "builtin:nope.gguf")
	if code != 2 || !strings.Contains(errs, "builtin:nope.gguf") || !strings.Contains(errs, "qwen2-tiny-q4_k_m.gguf") {
		t.Errorf("unknown builtin: exit %d, %q", code, errs)
	}
}

// TestInspectFileTypeAndFilter: general.file_type reads as llama.cpp
// prints it, and --tensors lists only matching tensors while the summary
// still counts all of them.
func TestInspectFileTypeAndFilter(t *testing.T) {
	out, errs, code := runCLI(t, "inspect", "--json", "--tensors", "blk.1.attn_*", "builtin:qwen2-tiny-q4_k_m.gguf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var info inspection
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.FileType != "Q4_K - Medium" {
		t.Errorf("file_type %q, want %q", info.FileType, "Q4_K - Medium")
	}
	if len(info.Tensors) != 8 || info.Summary.Tensors != 50 {
		t.Errorf("filter: %d tensors listed (want 8), summary %d (want 50)", len(info.Tensors), info.Summary.Tensors)
	}
	for _, tn := range info.Tensors {
		if !strings.HasPrefix(tn.Name, "blk.1.attn_") {
			t.Errorf("filter kept %s", tn.Name)
		}
	}
	for v, want := range map[uint32]string{0: "all F32", 7: "Q8_0", 10: "Q2_K - Medium", 18: "Q6_K", 1024 + 15: "Q4_K - Medium (guessed)", 99: "unknown, may not work"} {
		if got := ftypeName(v); got != want {
			t.Errorf("ftypeName(%d) = %q, want %q", v, got, want)
		}
	}
	if _, _, code := runCLI(t, "inspect", "--tensors", "[", "builtin:qwen2-tiny-q4_k_m.gguf"); code != 2 {
		t.Errorf("bad pattern: exit %d, want 2", code)
	}
}

// TestInputValidation: an empty prompt, a negative thread count and more
// tokens than the model's context are refused as usage errors.
func TestInputValidation(t *testing.T) {
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	many := strings.TrimSuffix(strings.Repeat("1,", 2049), ",")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trace", m, "-p", ""}, "--prompt is empty"},
		{[]string{"trace", m, "--tokens", ""}, "--tokens is empty"},
		{[]string{"trace", m, "-p", "hi", "--threads", "-3"}, "--threads -3"},
		{[]string{"diff", m, m, "-p", "", "-t", "2"}, "--prompt is empty"},
		{[]string{"diff", m, m, "-p", "hi", "-t", "-1"}, "--threads -1"},
		{[]string{"run", "--threads", "-2"}, "--threads -2"},
		{[]string{"trace", "-t", "2", m, "--tokens", many}, "context length of 2048"},
	} {
		_, errs, code := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%.60q: exit %d, stderr %q (want 2, %q)", tc.args, code, errs, tc.want)
		}
	}
}

// TestConvertRefusesNonAPRTarget: an existing file that is not APR is
// kept unless --force; temporary files a killed conversion left are
// removed.
func TestConvertRefusesNonAPRTarget(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("my notes\n"), 0o644)
	_, errs, code := runCLI(t, "convert", "builtin:qwen2-tiny-q4_k_m.gguf", notes)
	if code != 2 || !strings.Contains(errs, "--force") || !strings.Contains(errs, notes) {
		t.Errorf("exit %d, %q", code, errs)
	}
	if b, _ := os.ReadFile(notes); string(b) != "my notes\n" {
		t.Errorf("notes.txt was changed")
	}
	if _, errs, code := runCLI(t, "convert", "--force", "builtin:qwen2-tiny-q4_k_m.gguf", notes); code != 0 {
		t.Errorf("--force: exit %d: %s", code, errs)
	}
	out := filepath.Join(dir, "m.apr")
	stale := filepath.Join(dir, ".m.apr.tmp-12345")
	os.WriteFile(stale, []byte("half a model"), 0o600)
	if _, errs, code := runCLI(t, "convert", "builtin:qwen2-tiny-q4_k_m.gguf", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file %s not removed (%v)", stale, err)
	}
	// An existing APR file is replaced without --force.
	if _, errs, code := runCLI(t, "convert", "builtin:qwen2-tiny-q4_k_m.gguf", out); code != 0 {
		t.Errorf("over an APR file: exit %d: %s", code, errs)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("hidden files left: %v", left)
	}
}

// TestConvertProgressNeverPassesTotal: the progress lines' bytes never
// exceed the total and the last line is the whole.
func TestConvertProgressNeverPassesTotal(t *testing.T) {
	_, errs, code := runCLI(t, "convert", "--progress", "always", "builtin:qwen2-tiny-q4_k_m.gguf", filepath.Join(t.TempDir(), "m.apr"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "tensor 51/51 done") || !strings.Contains(last, "(100%)") {
		t.Errorf("last progress line %q", last)
	}
	for _, l := range lines {
		if i := strings.Index(l, "% of "); i < 0 {
			if i := strings.LastIndex(l, "("); i >= 0 {
				var pct int
				if _, err := fmt.Sscanf(l[i:], "(%d%%)", &pct); err == nil && pct > 100 {
					t.Errorf("progress over 100%%: %q", l)
				}
			}
		}
	}
}

// TestCacheListAndClean: `cache` lists the conversions after a run that
// converts, and `cache clean` removes them (the builtin models stay
// unless --all).
func TestCacheListAndClean(t *testing.T) {
	t.Setenv("FALSIFY_CACHE", t.TempDir())
	if _, errs, code := runCLI(t, "run", "-t", "2", "--evidence", t.TempDir(), "-k", "PARITY-001", "apr-vs-gguf-forward-parity-v1"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	out, _, code := runCLI(t, "cache")
	if code != 0 || !strings.Contains(out, "conversions        1 files") {
		t.Errorf("cache list: exit %d:\n%s", code, out)
	}
	out, _, code = runCLI(t, "cache", "clean")
	if code != 0 || !strings.Contains(out, "removed conversions: 1 files") || strings.Contains(out, "builtin models") {
		t.Errorf("cache clean: exit %d:\n%s", code, out)
	}
	out, _, _ = runCLI(t, "cache", "list")
	if !strings.Contains(out, "conversions        0 files") {
		t.Errorf("after clean:\n%s", out)
	}
	if _, _, code := runCLI(t, "cache", "purge"); code != 2 {
		t.Errorf("unknown action: exit %d, want 2", code)
	}
}

// TestDiffDefaultThreshold: without --threshold the first divergence is
// the first site above NMSE 1e-3, not the first site that differs (the
// embedding, for any two quantizations); --threshold 0 restores that.
func TestDiffDefaultThreshold(t *testing.T) {
	args := []string{"diff", "--json", "-t", "2", "--tokens", "3838,374,220,17", "builtin:qwen2-tiny-q4_k_m.gguf", "builtin:qwen2-tiny-q4_k_m-as-f32.gguf", "--matmul-b", "f32"}
	d := diffJSONOut(t, args[2:]...)
	exact := diffJSONOut(t, append(args[2:], "--threshold", "0")...)
	if exact.FirstDivergence == nil {
		t.Fatal("--threshold 0: no divergence between Q4_K_M and its F32 copy in f32 matmul")
	}
	if d.FirstDivergence != nil {
		if float64(d.FirstDivergence.Limit) != 1e-3 || !(float64(d.FirstDivergence.Value) > 1e-3) {
			t.Errorf("default: limit %v value %v, want limit 1e-3 and a value above it", d.FirstDivergence.Limit, d.FirstDivergence.Value)
		}
	}
	for _, s := range d.Sites {
		if d.FirstDivergence == nil && float64(s.NMSE) > 1e-3 {
			t.Errorf("site %s has NMSE %v > 1e-3 but no first divergence was reported", s.Slot, s.NMSE)
		}
	}
}
