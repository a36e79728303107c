// Command falsify runs falsification contracts against LLM inference
// engines and inspects the models and traces they work on.
//
// Each subcommand lives in its own file (cmd_<name>.go) as a function of
// the shape of command.run; main only parses the subcommand name, wires
// Ctrl-C to a context and maps errors to exit codes (1 for failures, 2 for
// usage errors).
package main
