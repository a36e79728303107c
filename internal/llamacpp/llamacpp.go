package llamacpp

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed oracle.mjs
var oracleScript []byte

// Dir returns the node-llama-cpp install directory: $FALSIFY_NODE_LLAMA_CPP
// or ~/.cache/falsify/node-llama-cpp.
func Dir() string {
	if d := os.Getenv("FALSIFY_NODE_LLAMA_CPP"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "falsify", "node-llama-cpp")
}

// Find checks that node and the package are installed.
func Find() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("node (Node.js) is not on PATH")
	}
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp", "package.json")); err != nil {
		return "", fmt.Errorf("node-llama-cpp not installed in %s (run scripts/fetch-llamacpp.sh)", dir)
	}
	return dir, nil
}

// Require returns the install directory or skips the test with the reason.
func Require(tb testing.TB) string {
	tb.Helper()
	dir, err := Find()
	if err != nil {
		tb.Skipf("llama.cpp oracle unavailable: %v", err)
	}
	return dir
}

// Request is what the oracle computes.
type Request struct {
	Model   string  `json:"model"`
	Tokens  []int32 `json:"tokens,omitempty"`
	Text    *string `json:"text,omitempty"`
	Threads int     `json:"threads,omitempty"`
	Top     int     `json:"top,omitempty"`
}

// Reply holds the tokens of Request.Text and, for each position of
// Request.Tokens, the Top most probable next tokens.
type Reply struct {
	Tokens    []int32 `json:"tokens"`
	Positions []struct {
		Top [][2]float64 `json:"top"` // [token id, probability], most probable first
	} `json:"positions"`
}

// Run executes one request.
func Run(ctx context.Context, req Request) (*Reply, error) {
	dir, err := Find()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "falsify-oracle.mjs")
	if old, err := os.ReadFile(script); err != nil || !bytes.Equal(old, oracleScript) {
		if err := os.WriteFile(script, oracleScript, 0o644); err != nil {
			return nil, fmt.Errorf("llamacpp: %w", err)
		}
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("llamacpp: %s: %w: %s", req.Model, err, lastLines(stderr.String(), 5))
	}
	var reply Reply
	if err := json.Unmarshal(stdout.Bytes(), &reply); err != nil {
		return nil, fmt.Errorf("llamacpp: bad reply for %s: %w: %.200s", req.Model, err, stdout.String())
	}
	return &reply, nil
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
