package vulkan

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// TestNoContraction audits the committed SPIR-V for products that a driver
// could fuse into an FMA: an OpFMul without the NoContraction decoration
// (GLSL precise) whose result feeds an OpFAdd or OpFSub, and an undecorated
// Fma (what glslc -O makes of a precise multiply-add in an unrolled loop). A fused product
// changes bits by device, and between the matrix-vector and matrix-matrix
// builds if their compilers fuse differently. No shader may have one
// (needs spirv-dis).
func TestNoContraction(t *testing.T) {
	dis, err := exec.LookPath("spirv-dis")
	if err != nil {
		t.Skip("spirv-dis not installed (Debian: spirv-tools)")
	}
	names, err := fs.Glob(spvFS, "shaders/spv/*.spv")
	if err != nil {
		t.Fatal(err)
	}
	decorated := regexp.MustCompile(`OpDecorate (%\w+) NoContraction`)
	mul := regexp.MustCompile(`(%\w+) = OpFMul `)
	addsub := regexp.MustCompile(`= Op(?:FAdd|FSub) %\w+ (%\w+) (%\w+)`)
	fma := regexp.MustCompile(`(%\w+) = OpExtInst %\w+ %\w+ Fma `)
	dir := t.TempDir()
	for _, name := range names {
		base := filepath.Base(name)
		code, _ := fs.ReadFile(spvFS, name)
		f := filepath.Join(dir, base)
		if err := os.WriteFile(f, code, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(dis, f).Output()
		if err != nil {
			t.Fatalf("spirv-dis %s: %v", base, err)
		}
		src := string(out)
		nc := map[string]bool{}
		for _, m := range decorated.FindAllStringSubmatch(src, -1) {
			nc[m[1]] = true
		}
		loose := map[string]bool{}
		for _, m := range mul.FindAllStringSubmatch(src, -1) {
			if !nc[m[1]] {
				loose[m[1]] = true
			}
		}
		fusable := 0
		// glslc -O fuses the copies of an unrolled loop, whose
		// NoContraction it drops, into Fma (fused or not, as the driver
		// likes): count those too.
		for _, m := range fma.FindAllStringSubmatch(src, -1) {
			if !nc[m[1]] {
				fusable++
			}
		}
		for _, m := range addsub.FindAllStringSubmatch(src, -1) {
			if loose[m[1]] || loose[m[2]] {
				fusable++
			}
		}
		if fusable > 0 {
			t.Errorf("%s: %d products without NoContraction feed an add or subtract (mark them precise)", base, fusable)
		}
	}
}
