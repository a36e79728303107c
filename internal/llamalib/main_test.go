package llamalib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain loads the zen4 CPU variant unless the caller chose one: the
// fixture goldens were made with it, and the variants differ in the last
// bits (F16 rounding, activation quantization); with it every golden is
// reproduced bit for bit.
func TestMain(m *testing.M) {
	if os.Getenv(CPUVariantEnv) == "" && cpuHasZen4Features() {
		if _, err := os.Stat(filepath.Join(Dir(), "libggml-cpu-zen4.so")); err == nil {
			os.Setenv(CPUVariantEnv, "zen4")
		}
	}
	os.Exit(m.Run())
}

// cpuHasZen4Features reports whether /proc/cpuinfo lists the AVX-512
// extensions ggml's zen4 variant is built for.
func cpuHasZen4Features() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, f := range []string{" avx512f", " avx512bw", " avx512vl", " avx512dq", " avx512_vnni", " avx512_bf16", " avx512vbmi"} {
		if !strings.Contains(string(b), f) {
			return false
		}
	}
	return true
}
