// Package live runs contract engine-vs-llamacpp-live-v1: the embedded
// engine against llama.cpp run live in process (no golden file).
package live
