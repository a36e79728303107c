// Package contracts reads falsification contracts: pv-compatible YAML
// documents (metadata, equations, proof obligations, falsification tests,
// Kani harnesses, a verification summary) plus the three blocks that make
// them runnable here: subjects (what runs), input (the prompt) and, per
// falsification test, a typed gate and its requires list.
//
// The package does one job: turn contract bytes into typed values that a
// harness can evaluate, and say precisely, by file and line, what is wrong
// with a contract. It never runs a model.
//
// Parse and Load accept any well-formed YAML and never reject a contract for
// its content; decoding problems (a number where a list belongs, an unknown
// gate parameter, a duplicate key) are kept as findings, and Validate returns
// them together with the semantic checks (pv's own and ours). A harness must
// therefore call Validate and refuse a contract with error findings before
// evaluating it; Check does both in one call.
//
// The decoder walks gopkg.in/yaml.v3 nodes by hand instead of unmarshalling
// into structs: struct decoding loses line numbers, silently accepts
// duplicate keys and unknown fields, and stops at the first type error,
// while a validator must report every problem with its line.
//
// The contracts in this directory (*.yaml) are embedded in the binary;
// Builtin lists them and LoadBuiltin reads one.
package contracts
