package llamalib

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain loads the zen4 CPU variant unless the caller chose one: the
// fixture goldens were made with it, and the variants differ in the last
// bits (F16 rounding, activation quantization); with it every golden is
// reproduced bit for bit.
func TestMain(m *testing.M) {
	if os.Getenv(CPUVariantEnv) == "" {
		if _, err := os.Stat(filepath.Join(Dir(), "libggml-cpu-zen4.so")); err == nil {
			os.Setenv(CPUVariantEnv, "zen4")
		}
	}
	os.Exit(m.Run())
}
