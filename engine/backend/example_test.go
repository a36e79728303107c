package backend_test

import (
	"errors"
	"fmt"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/trace"
)

// A backend registers itself by name in its package's init; when its
// device is missing, Open says so with an error wrapping ErrUnavailable,
// which the harness reports as SKIP with this text.
func ExampleRegister() {
	backend.Register("example-gpu", func(cfg backend.Config) (backend.Backend, error) {
		return nil, backend.Unavailable("no example device on this host")
	})
	_, err := backend.Open("example-gpu", backend.Config{Matmul: trace.MatmulQuantized})
	fmt.Println(err)
	fmt.Println(errors.Is(err, backend.ErrUnavailable))
	// Output:
	// backend example-gpu not registered/available: no example device on this host
	// true
}
