// Package harness turns contracts into verdicts: it resolves each
// contract's subjects to model files (environment variables, --set
// overrides, builtin: models, APR conversion of a GGUF subject), runs each
// distinct subject once per Runner, evaluates every gate, applies
// `requires` preconditions, and returns one evidence.GateRecord per gate
// with the measured values and every subject's provenance.
//
// Verdicts: PASS; FAIL (measured, and outside the band); BLOCKED (a
// required gate did not pass, or the two sides measured different samples
// so a comparison would be meaningless); SKIP (a subject cannot run here,
// e.g. it needs a GPU; always with the reason); ERROR (the harness could
// not measure: a missing file, a zero denominator). Only PASS passes.
//
// The harness knows contracts and evidence; the engine and parity know
// neither (DESIGN.md: contract -> harness -> engine -> trace -> parity ->
// verdict -> evidence).
package harness
