// Package evidence records what a falsification run decided and why: one
// JSON record per gate (schema "falsify.gate/v1") and one report per run
// ("falsify.run/v1"), written atomically, read back and merged across runs
// and shards, checked against the JSON Schemas in schema/, and rendered as
// a Markdown table for CI logs. `falsify gate` is built on it.
//
// The package knows nothing about contracts or engines: the harness fills
// the records (gate params as plain values, subject provenance as the
// trace package's Provenance), so evidence stays readable by tools that
// never link this module.
//
// Directory layout:
//
//	DIR/<contract-id>/<gate-id>.json   one GateRecord per gate
//	DIR/run-<run-id>.json              one RunReport per run
//	DIR/summary.md                     the Markdown table (optional)
//
//	DIR/run-<run-id>.dsse              its signature, when signed (sign.go)
//
// A run is written as a unit (Run, run.go): the report first, marked
// running and declaring every gate; each record with its sha256; the
// report again, complete, last. Verify (verify.go) is what `falsify gate`
// trusts: every run complete, every declared gate present, every digest
// matching, every verdict agreeing with its measurements, one contract
// version and one model set per contract, and with a key, every report
// signed.
//
// Shards may write into subdirectories of one DIR or into separate
// directories; Load reads a tree recursively and Merge keeps, for a gate
// seen twice, the record that finished last, with a note saying so.
package evidence
