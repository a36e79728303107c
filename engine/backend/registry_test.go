package backend

import (
	"errors"
	"strings"
	"testing"

	"github.com/falsify/falsify/trace"
)

// TestRegistry: an unregistered name and an Open that reports a missing
// device are errors wrapping ErrUnavailable whose text starts with the
// backend's name; a bad config and other Open failures are not.
func TestRegistry(t *testing.T) {
	cfg := Config{Matmul: trace.MatmulQuantized}
	Register("test-absent-device", func(Config) (Backend, error) { return nil, Unavailable("no device: test") })
	Register("test-broken", func(Config) (Backend, error) { return nil, errors.New("shader compile failed") })

	for _, tc := range []struct {
		name, want  string
		cfg         Config
		unavailable bool
	}{
		{"test-not-registered", "backend test-not-registered not registered/available: this build registers ", cfg, true},
		{"test-absent-device", "backend test-absent-device not registered/available: no device: test", cfg, true},
		{"test-broken", "backend test-broken: shader compile failed", cfg, false},
		{"test-broken", `unknown matmul mode "" (f32, quantized)`, Config{}, false},
	} {
		_, err := Open(tc.name, tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open(%q): %v, want an error starting %q", tc.name, err, tc.want)
		}
		if got := errors.Is(err, ErrUnavailable); got != tc.unavailable {
			t.Errorf("Open(%q): errors.Is(ErrUnavailable) = %v, want %v", tc.name, got, tc.unavailable)
		}
	}
	if err := Lookup("test-broken"); err != nil {
		t.Errorf("Lookup of a registered backend: %v", err)
	}
	for _, bad := range []ContextConfig{{0, 1, 1}, {1, 0, 1}, {1, 2, 1}} {
		if CheckContextConfig(bad) == nil {
			t.Errorf("CheckContextConfig(%+v) = nil", bad)
		}
	}
	if err := CheckContextConfig(ContextConfig{Threads: 1, MaxBatch: 1, MaxCtx: 1}); err != nil {
		t.Error(err)
	}
}

// TestRegisterTwicePanics: a duplicate name is a programmer error.
func TestRegisterTwicePanics(t *testing.T) {
	open := func(Config) (Backend, error) { return nil, nil }
	Register("test-twice", open)
	defer func() {
		if recover() == nil {
			t.Error("second Register of the same name did not panic")
		}
	}()
	Register("test-twice", open)
}
