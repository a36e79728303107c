package contracts

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.yaml", "a.yml", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	file := filepath.Join(dir, "b.yaml")
	all := func() []string {
		var out []string
		for _, n := range Builtin() {
			out = append(out, BuiltinPrefix+n)
		}
		return out
	}()
	for _, tc := range []struct {
		refs []string
		want []string
	}{
		{nil, all},
		{[]string{""}, all},
		{[]string{"builtin:trace-determinism-v1"}, []string{"builtin:trace-determinism-v1.yaml"}},
		{[]string{"builtin:trace-determinism-v1.yaml" + string(os.PathListSeparator) + "builtin:trace-determinism-v1"}, []string{"builtin:trace-determinism-v1.yaml"}},
		{[]string{file}, []string{file}},
		{[]string{dir}, []string{filepath.Join(dir, "a.yml"), file}},
		{[]string{dir + string(os.PathListSeparator) + file, "trace-determinism-v1"}, []string{filepath.Join(dir, "a.yml"), file, "builtin:trace-determinism-v1.yaml"}},
	} {
		got, err := Resolve(tc.refs...)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.refs, got, err, tc.want)
		}
	}
	if _, err := Resolve("no-such-contract"); err == nil || !errors.Is(err, ErrNoBuiltin) || !strings.Contains(err.Error(), "no-such-contract: no such file") {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Resolve("builtin:" + file); !errors.Is(err, ErrNoBuiltin) {
		t.Errorf("builtin: prefix on a path: %v", err)
	}
	empty := t.TempDir()
	if _, err := Resolve(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty directory: %v", err)
	}
}

func TestOpen(t *testing.T) {
	c, err := Open("builtin:trace-determinism-v1.yaml")
	if err != nil || c.ID != "trace-determinism-v1" {
		t.Fatalf("Open builtin: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}
