package vk

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayoutMatchesVulkanCore compiles a C program that prints sizeof and
// offsetof of every mirrored struct from the installed vulkan_core.h, and
// compares them with the Go mirrors.
func TestLayoutMatchesVulkanCore(t *testing.T) {
	const header = "/usr/include/vulkan/vulkan_core.h"
	if _, err := os.Stat(header); err != nil {
		t.Skipf("no %s (install libvulkan-dev to check the struct mirrors)", header)
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to compile the layout probe")
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <vulkan/vulkan_core.h>\nint main(void) {\n")
	for _, l := range layouts {
		fmt.Fprintf(&src, "\tprintf(\"%s %%zu\\n\", sizeof(%s));\n", l.Name, l.Name)
		for _, f := range l.Fields {
			fmt.Fprintf(&src, "\tprintf(\"%s.%s %%zu\\n\", offsetof(%s, %s));\n", l.Name, f.Name, l.Name, f.Name)
		}
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "probe.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-o", filepath.Join(dir, "probe"), filepath.Join(dir, "probe.c")).CombinedOutput(); err != nil {
		t.Fatalf("compile layout probe: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "probe")).Output()
	if err != nil {
		t.Fatalf("run layout probe: %v", err)
	}
	c := map[string]uintptr{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("probe line %q: %v", sc.Text(), err)
		}
		c[k] = uintptr(n)
	}
	checked := 0
	for _, l := range layouts {
		if c[l.Name] != l.Size {
			t.Errorf("%s: Go size %d, C size %d", l.Name, l.Size, c[l.Name])
		}
		if lp64Sizes[l.Name] != c[l.Name] {
			t.Errorf("%s: recorded size %d, C size %d (update lp64Sizes)", l.Name, lp64Sizes[l.Name], c[l.Name])
		}
		for _, f := range l.Fields {
			if got, want := f.Offset, c[l.Name+"."+f.Name]; got != want {
				t.Errorf("%s.%s: Go offset %d, C offset %d", l.Name, f.Name, got, want)
			}
			checked++
		}
	}
	t.Logf("%d structs, %d field offsets match %s", len(layouts), checked, header)
}
