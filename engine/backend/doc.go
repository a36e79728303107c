// Package backend is the seam between the engine's forward pass and the
// hardware that computes it, in two levels as in ollama's ml package: a
// Backend is opened once per model and holds its weights (a GPU uploads
// them once); a Context, one per sequence, owns the activations and the KV
// cache and has one method per operation of a llama-family transformer
// block. Tensor (activations) and Weight (model weights) are opaque
// handles. Backends are registered by name in the style of database/sql
// drivers (Register, Open).
//
// A context keeps its tensors where it computes (host memory for the CPU,
// device memory for a GPU). Values reach the host only through Read, which
// the engine calls at the capture points of a traced run and for the
// logits; an untraced run on a GPU therefore synchronizes once per forward
// call. Operations return no error: a backend that can fail mid-graph
// (a lost device) keeps the first error and returns it from the next Read.
//
// Adding a backend: a package (engine/cpu is the one there is) implements
// Backend and calls Register in its init; an unavailable device is an Open
// error wrapping ErrUnavailable with the reason, never a silent fallback
// to another backend. The package is imported for its side effect where
// the backend should be offered (engine imports engine/cpu, its default).
package backend
