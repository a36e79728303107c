package main

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/falsify/falsify/engine/backend"
)

// closeFailBackend is the CPU backend with a Close that fails, as the
// Vulkan backend's does when the validation layer reported messages
// (FALSIFY_VULKAN_VALIDATE=1) or an object leaked.
type closeFailBackend struct{ backend.Backend }

const closeFailName = "test-closefail"

var errCloseFail = errors.New("vulkan: 1 validation messages, first: error: test message")

func (b closeFailBackend) Name() string { return closeFailName }
func (b closeFailBackend) Close() error { return errors.Join(b.Backend.Close(), errCloseFail) }

var registerCloseFail = sync.OnceFunc(func() {
	backend.Register(closeFailName, func(cfg backend.Config) (backend.Backend, error) {
		be, err := backend.Open("cpu", cfg)
		if err != nil {
			return nil, err
		}
		return closeFailBackend{be}, nil
	})
})

// A backend's Close error (the Vulkan validation layer's messages) fails
// trace and diff with exit 3 and the message, and no result is printed:
// it is not dropped by a deferred Close.
func TestBackendCloseErrorFailsTheCommand(t *testing.T) {
	registerCloseFail()
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	for _, args := range [][]string{
		{"trace", "--json", "--backend", closeFailName, "-t", "2", "--tokens", "1,2", m},
		{"diff", "--json", "--backend-a", closeFailName, "--backend-b", "cpu", "-t", "2", "--tokens", "1,2", m, m},
	} {
		out, errs, code := runCLI(t, args...)
		if code != 3 || !strings.Contains(errs, "validation messages") || !strings.Contains(errs, m) {
			t.Errorf("%v: exit %d, want 3 with the Close error and the model\n%s", args, code, errs)
		}
		if strings.TrimSpace(out) != "" {
			t.Errorf("%v: printed a result despite the Close error:\n%.300s", args, out)
		}
	}
}
