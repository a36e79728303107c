// Package numcmp is the one family of numeric comparisons the project uses
// (tests, parity metrics, gates): NMSE, cosine similarity, SQNR, max
// absolute and relative L2 error, ULP distance, all in float64 and
// NaN-aware, plus a Diff that describes the worst element for failure
// messages.
package numcmp
