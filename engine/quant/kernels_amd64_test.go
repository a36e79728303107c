//go:build amd64 && !purego

package quant

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// Kernels names the set the CPU features select (the string trace
// provenance records), and follows the switches the kernel choice
// follows: without VBMI "avx512-vnni", without VNNI "avx2", without
// SIMD "generic".
func TestKernelsNamesTheSet(t *testing.T) {
	want := "generic"
	switch {
	case vnniEnabled && cpu.X86.HasAVX512VBMI:
		want = "avx512-vnni+vbmi"
	case vnniEnabled:
		want = "avx512-vnni"
	case simdEnabled:
		want = "avx2"
	}
	if got := Kernels(); got != want {
		t.Errorf("Kernels() = %q, the CPU's features give %q", got, want)
	}
	if vnniEnabled {
		restore := withVBMI(false)
		if got := Kernels(); got != "avx512-vnni" {
			t.Errorf("VBMI off: Kernels() = %q, want avx512-vnni", got)
		}
		restore()
		withVNNI(false, func() {
			if got := Kernels(); got != "avx2" {
				t.Errorf("VNNI off: Kernels() = %q, want avx2", got)
			}
		})
	}
	withVNNI(false, func() {
		withSIMD(false, func() {
			if got := Kernels(); got != "generic" {
				t.Errorf("SIMD off: Kernels() = %q, want generic", got)
			}
		})
	})
}
