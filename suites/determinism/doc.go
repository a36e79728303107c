// Package determinism runs contract trace-determinism-v1: traces are
// bit-identical across runs and thread counts, and tracing changes no bit.
package determinism
