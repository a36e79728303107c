package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock is a fenced shell block of README.md marked for testing:
// "```sh test" (must exit 0) or "```sh test exit=N".
type readmeBlock struct {
	line   int
	script string
	exit   int
}

// readmeBlocks extracts the README's test blocks (indented ones included,
// as inside a list).
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeBlock
	var cur *readmeBlock
	indent := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			info, ok := strings.CutPrefix(trimmed, "```")
			fields := strings.Fields(info)
			if !ok || len(fields) < 2 || fields[0] != "sh" || fields[1] != "test" {
				continue
			}
			cur = &readmeBlock{line: n}
			indent = line[:len(line)-len(trimmed)]
			for _, f := range fields[2:] {
				if v, ok := strings.CutPrefix(f, "exit="); ok {
					if cur.exit, err = strconv.Atoi(v); err != nil {
						t.Fatalf("README.md:%d: bad %q", n, f)
					}
				}
			}
			continue
		}
		if trimmed == "```" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		cur.script += strings.TrimPrefix(line, indent) + "\n"
	}
	if cur != nil {
		t.Fatalf("README.md:%d: unterminated block", cur.line)
	}
	return out
}

// TestReadmeExamples runs the README's "```sh test" blocks, in order, in
// one scratch directory holding a copy of examples/, with the falsify
// binary built from this tree first on PATH: the examples a new user
// types cannot rot. Each block must exit as marked.
func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary and runs the README's examples")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	if len(blocks) < 5 {
		t.Fatalf("README.md has %d test blocks; the first-ten-minutes section should have more", len(blocks))
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "falsify"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join(root, "examples"), work).CombinedOutput(); err != nil {
		t.Fatalf("copy examples: %v\n%s", err, out)
	}
	for _, b := range blocks {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", b.script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("README.md:%d: %v", b.line, err)
		}
		if code != b.exit {
			t.Errorf("README.md:%d: exit %d, want %d\n%s\n%s", b.line, code, b.exit, b.script, tail(string(out), 2000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("...%s", s[len(s)-n:])
}
