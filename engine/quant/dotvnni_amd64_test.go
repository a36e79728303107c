//go:build amd64 && !purego

package quant

import "testing"

// withVNNI runs f with the AVX-512 VNNI kernels on or off (never on where
// the CPU lacks them), the AVX2 ones staying as they are.
func withVNNI(on bool, f func()) {
	saved := vnniEnabled
	vnniEnabled = on && saved
	defer func() { vnniEnabled = saved }()
	f()
}

// withVBMI sets vbmiEnabled to on (where the CPU has VBMI) until the
// returned function restores it.
func withVBMI(on bool) func() {
	saved := vbmiEnabled
	vbmiEnabled = on && saved
	return func() { vbmiEnabled = saved }
}

// requireVNNI skips a test of the VNNI kernels where they do not run.
func requireVNNI(t testing.TB) {
	t.Helper()
	if !vnniEnabled {
		t.Skip("CPU without AVX-512 VNNI (or SIMD off): DotMatrixFunc uses the AVX2 kernels")
	}
}
