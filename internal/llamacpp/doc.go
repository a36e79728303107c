// Package llamacpp runs llama.cpp itself, as an oracle for tests: the
// prebuilt library that node-llama-cpp 3.21.1 ships (llama.cpp v0.4.0, the
// version that produced the fixture goldens), driven by a small Node.js
// script. It loads GGUF files this project writes (proof that llama.cpp
// accepts them), tokenizes text and returns next-token probabilities.
//
// Install it with scripts/fetch-llamacpp.sh; Find reports why it is
// unavailable so tests can skip with that reason.
package llamacpp
