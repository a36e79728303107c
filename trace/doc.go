// Package trace is the capture vocabulary and the trace data every other
// package shares (specs/capture-points.md): the capture points (Slot), the
// samples a statistic is taken over (Sample), the positions a comparison
// uses (Positions), the statistics (Stat, Stats), the comparison metrics
// (Metric), the matmul modes (MatmulMode), judging bands (Band), the
// JSON-safe float encodings (Float, Vector), what one forward pass recorded
// (Trace, LayerTrace, SlotTrace, Provenance), and the reader of llama.cpp
// golden forward files (LoadGolden).
//
// It is a leaf: it imports only the standard library and internal/numcmp,
// so contracts, engine, parity, harness and evidence all use it and none
// of them defines these concepts again.
//
// NaN and the infinities are spelled "NaN", "+Inf" and "-Inf" in every
// JSON this project writes (traces and evidence alike).
package trace
