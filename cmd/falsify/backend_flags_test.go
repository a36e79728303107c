package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/trace"
)

// Backend flags are checked before any model loads: an engine backend
// this build lacks is a usage error naming the flag, the value and the
// backends there are; llama.cpp takes cpu or vulkan.
func TestBackendFlagsRefuseUnknownBackends(t *testing.T) {
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	registered := strings.Join(backend.Names(), ", ")
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"trace", "--backend", "nosuch", "--tokens", "1", m}, []string{`--backend "nosuch"`, "this build registers " + registered}},
		{[]string{"trace", "--runtime", "llamacpp", "--backend", "nosuch", "--tokens", "1", m}, []string{`--backend "nosuch"`, "cpu or vulkan"}},
		{[]string{"diff", "--backend-a", "nosuch", "--tokens", "1", m, m}, []string{`--backend-a "nosuch"`, "this build registers " + registered}},
		{[]string{"diff", "--backend-b", "CPU", "--tokens", "1", m, m}, []string{`--backend-b "CPU"`}},
		{[]string{"trace", "--kv-type", "f32", "--tokens", "1", m}, []string{"--runtime llamacpp"}},
	} {
		_, errs, code := runCLI(t, tt.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", tt.args, code, errs)
		}
		for _, w := range tt.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tt.args, w, errs)
			}
		}
	}
}

// trace --backend and diff --backend-a/-b run the engine on the named
// backend (its name in the provenance); a saved trace takes no backend.
func TestBackendFlagsNameTheBackend(t *testing.T) {
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	out, errs, code := runCLI(t, "trace", "--json", "--backend", "cpu", "-t", "2", "--tokens", "1,2", m)
	if code != 0 {
		t.Fatalf("trace --backend cpu: exit %d\n%s", code, errs)
	}
	var tr trace.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Provenance.Backend != "cpu" || tr.Provenance.Device == "" {
		t.Errorf("trace --backend cpu: provenance backend %q device %q", tr.Provenance.Backend, tr.Provenance.Device)
	}
	saved := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(saved, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code = runCLI(t, "diff", "--json", "--backend-a", "cpu", "--backend-b", "cpu", "-t", "2", "--tokens", "1,2", m, m)
	if code != 0 {
		t.Fatalf("diff --backend-a cpu --backend-b cpu: exit %d\n%s", code, errs)
	}
	var d struct {
		A, B struct{ Provenance trace.Provenance }
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.A.Provenance.Backend != "cpu" || d.B.Provenance.Backend != "cpu" {
		t.Errorf("diff: backends %q and %q, want cpu and cpu", d.A.Provenance.Backend, d.B.Provenance.Backend)
	}
	if _, errs, code := runCLI(t, "diff", "--backend-b", "cpu", "--tokens", "1,2", m, saved); code != 2 || !strings.Contains(errs, "--backend-b cpu: "+saved+" is a saved trace") {
		t.Errorf("diff --backend-b on a saved trace: exit %d, want 2\n%s", code, errs)
	}
}

// The vulkan backend on the CLI: with a device it runs and the provenance
// names the GPU; registered without a device, the run is a broken setup
// (exit 3) naming the flag and what is missing; not registered, a usage
// error (exit 2). Which of the three applies here is what `falsify
// backends` says, and that listing must agree.
func TestVulkanBackendOnTheCLI(t *testing.T) {
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	out, errs, code := runCLI(t, "backends", "--json")
	if code != 0 {
		t.Fatalf("backends: exit %d\n%s", code, errs)
	}
	var list []engine.BackendStatus
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(b engine.BackendStatus) bool { return b.Name == "vulkan" })
	cpu := slices.IndexFunc(list, func(b engine.BackendStatus) bool { return b.Name == engine.DefaultBackend })
	if cpu < 0 || !list[cpu].Available || !list[cpu].Default {
		t.Fatalf("backends: the default backend %s is not listed as available and default: %+v", engine.DefaultBackend, list)
	}
	out, errs, code = runCLI(t, "trace", "--json", "--backend", "vulkan", "-t", "2", "--tokens", "1,2", m)
	switch {
	case i < 0:
		if code != 2 || !strings.Contains(errs, `--backend "vulkan"`) {
			t.Errorf("vulkan not registered: trace exit %d, want 2\n%s", code, errs)
		}
		t.Skip("this build registers no vulkan backend")
	case !list[i].Available:
		if code != 3 || !strings.Contains(errs, "--backend vulkan: ") || !strings.Contains(errs, "not registered/available") {
			t.Errorf("vulkan without a device (%s): trace exit %d, want 3 naming the flag and the reason\n%s", list[i].Problem, code, errs)
		}
		t.Skipf("no Vulkan device here: %s", list[i].Problem)
	}
	if code != 0 {
		t.Fatalf("trace --backend vulkan on %s: exit %d\n%s", list[i].Device, code, errs)
	}
	var tr trace.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Provenance.Backend != "vulkan" || tr.Provenance.Device != list[i].Device {
		t.Errorf("trace --backend vulkan: provenance backend %q device %q, want vulkan on %q", tr.Provenance.Backend, tr.Provenance.Device, list[i].Device)
	}
}
