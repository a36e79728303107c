// Package aprgguf runs contract apr-vs-gguf-forward-parity-v1: the APR and
// GGUF forms of one model must give per-layer statistics within Q4_K
// tolerance, on matched samples.
//
//	ginkgo --focus FALSIFY-APR-GGUF-PARITY-002 ./suites/...
package aprgguf
