package vulkan

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestShadersUpToDate rebuilds every shader with shaders/build.sh into a
// temporary directory (when glslc is installed) and requires the
// committed, embedded SPIR-V to be byte-identical, with no file missing
// or left over; spirv-val, when installed, must accept each module.
func TestShadersUpToDate(t *testing.T) {
	if _, err := exec.LookPath("glslc"); err != nil {
		t.Skip("glslc not installed (Debian: glslc); the committed SPIR-V is used as is")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "shaders/build.sh")
	cmd.Env = append(os.Environ(), "SPV_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shaders/build.sh: %v\n%s", err, b)
	}
	built, err := filepath.Glob(filepath.Join(out, "*.spv"))
	if err != nil || len(built) == 0 {
		t.Fatalf("build.sh wrote no SPIR-V (%v)", err)
	}
	embedded, err := fs.Glob(spvFS, "shaders/spv/*.spv")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range embedded {
		have[filepath.Base(e)] = true
	}
	val, _ := exec.LookPath("spirv-val")
	for _, f := range built {
		name := filepath.Base(f)
		got, _ := os.ReadFile(f)
		want, err := fs.ReadFile(spvFS, "shaders/spv/"+name)
		switch {
		case err != nil:
			t.Errorf("%s: built but not committed (run go generate ./engine/vulkan)", name)
		case !bytes.Equal(got, want):
			t.Errorf("%s: committed SPIR-V differs from a fresh build (run go generate ./engine/vulkan)", name)
		}
		delete(have, name)
		if val != "" {
			if b, err := exec.Command(val, "--target-env", "vulkan1.1", f).CombinedOutput(); err != nil {
				t.Errorf("spirv-val %s: %v\n%s", name, err, b)
			}
		}
	}
	for name := range have {
		t.Errorf("%s: committed but no source builds it (delete it or restore its source)", name)
	}
	t.Logf("%d shaders rebuilt byte-identical (spirv-val: %v)", len(built), val != "")
}
