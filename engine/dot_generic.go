//go:build !amd64 || purego

package engine

// useAVX2 is false where there is no assembly kernel (other architectures,
// or the purego build tag): dotF32 runs dotF32Go.
var useAVX2 = false

func dotF32Arch(a, b []float32) float32 { return dotF32Go(a, b) }
