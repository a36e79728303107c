package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVulkanExample: examples/llamacpp-vulkan-vs-cpu.yaml validates
// clean, and running it either PASSes all three gates (a Vulkan device
// ran, the evidence names it) or SKIPs them naming what is missing and
// how to install it; nothing else.
func TestVulkanExample(t *testing.T) {
	ex := filepath.Join("..", "..", "examples", "llamacpp-vulkan-vs-cpu.yaml")
	if out, errs, code := runCLI(t, "validate", ex); code != 0 || !strings.Contains(out+errs, "0 error(s), 0 warning(s)") {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
	}
	sharedMesaCache(t)
	ev := t.TempDir()
	out, errs, code := runCLI(t, "run", "--evidence", ev, "--json", ex)
	switch code {
	case 0:
		for _, id := range []string{"VULKAN-001", "VULKAN-002", "VULKAN-003"} {
			if !strings.Contains(out, id) {
				t.Errorf("report lacks %s:\n%s", id, out)
			}
		}
		rec, err := os.ReadFile(filepath.Join(ev, "llamacpp-vulkan-vs-cpu", "VULKAN-001.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(rec), `"backend": "llama.cpp vulkan"`) || !strings.Contains(string(rec), `"vulkan_device": "Vulkan`) {
			t.Errorf("the gate record does not name the Vulkan backend and device:\n%s", rec)
		}
	case 1:
		if !strings.Contains(out, "SKIP") || !(strings.Contains(out, "fetch-llamacpp.sh --vulkan") || strings.Contains(out, "fetch-llamacpp.sh")) {
			t.Errorf("exit 1 without a SKIP naming the install command:\n%s%s", out, errs)
		}
		t.Logf("skipped: %s", strings.TrimSpace(firstLine(out, "fetch-llamacpp")))
	default:
		t.Fatalf("run: exit %d\n%s%s", code, out, errs)
	}
}

// sharedMesaCache points Mesa's shader cache at the user's falsify cache
// (TestMain gives the tests a private FALSIFY_CACHE): lavapipe compiles
// ggml's pipelines in a minute or more the first time, seconds after.
func sharedMesaCache(t *testing.T) {
	if os.Getenv("MESA_SHADER_CACHE_DIR") != "" {
		return
	}
	if c, err := os.UserCacheDir(); err == nil {
		t.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(c, "falsify", "mesa-shader-cache"))
	}
}

func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
