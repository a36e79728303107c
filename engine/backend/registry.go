package backend

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/falsify/falsify/trace"
)

// ErrUnavailable is wrapped by every error that says a backend cannot run
// here: not registered in this build, no device, no driver. The harness
// turns it into SKIP with the error's text as the reason.
var ErrUnavailable = errors.New("backend unavailable")

// Unavailable returns an error wrapping ErrUnavailable whose text is the
// reason alone (e.g. "no Vulkan loader: libvulkan.so.1 not found"), for an
// OpenFunc to return; Open prefixes the backend's name.
func Unavailable(format string, args ...any) error {
	return &unavailableError{reason: fmt.Sprintf(format, args...)}
}

type unavailableError struct{ reason string }

func (e *unavailableError) Error() string { return e.reason }
func (e *unavailableError) Unwrap() error { return ErrUnavailable }

// OpenFunc opens a backend for one model. It returns an error wrapping
// ErrUnavailable (see Unavailable) when the hardware or driver is missing.
type OpenFunc func(cfg Config) (Backend, error)

var (
	mu       sync.RWMutex
	registry = map[string]OpenFunc{}
)

// Register makes a backend available by name. It panics if open is nil or
// the name is empty or already registered (a programmer error, as in
// database/sql.Register).
func Register(name string, open OpenFunc) {
	mu.Lock()
	defer mu.Unlock()
	if open == nil || name == "" {
		panic("backend: Register with an empty name or a nil open function")
	}
	if _, dup := registry[name]; dup {
		panic("backend: Register called twice for " + name)
	}
	registry[name] = open
}

// Names lists the registered backends, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns nil if name is registered, else an error wrapping
// ErrUnavailable that lists the backends this build has.
func Lookup(name string) error {
	mu.RLock()
	_, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return fmt.Errorf("backend %s not registered/available: %w", name, Unavailable("this build registers %s", strings.Join(Names(), ", ")))
	}
	return nil
}

// Open opens the named backend for cfg. An unregistered name, or a
// backend whose hardware is missing, gives an error wrapping
// ErrUnavailable.
func Open(name string, cfg Config) (Backend, error) {
	if err := Lookup(name); err != nil {
		return nil, err
	}
	mu.RLock()
	open := registry[name]
	mu.RUnlock()
	if _, err := trace.ParseMatmulMode(string(cfg.Matmul)); err != nil {
		return nil, err
	}
	b, err := open(cfg)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, fmt.Errorf("backend %s not registered/available: %w", name, err)
		}
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	return b, nil
}

// CheckContextConfig returns an error for a ContextConfig no backend can
// serve (for NewContext implementations).
func CheckContextConfig(cfg ContextConfig) error {
	if cfg.Threads < 1 || cfg.MaxBatch < 1 || cfg.MaxCtx < cfg.MaxBatch {
		return fmt.Errorf("bad context config: threads %d, batch %d, context %d", cfg.Threads, cfg.MaxBatch, cfg.MaxCtx)
	}
	return nil
}
