// Command falsify runs falsification contracts against LLM inference
// engines and inspects the models and traces they work on.
//
// Each subcommand lives in its own file (cmd_<name>.go) as a function of
// the shape of command.run; main only parses the subcommand name, wires
// Ctrl-C and SIGTERM to a context and maps errors to exit codes (see
// exitCodesHelp: 0 pass, 1 verdicts say no, 2 usage, 3 broken setup).
package main
