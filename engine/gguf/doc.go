// Package gguf reads and writes GGUF v2/v3 model files, the container of
// llama.cpp: a header, typed metadata, tensor descriptions and aligned
// tensor data.
//
// Open maps the file into memory (internal/mmapfile) and parses the
// header in place; tensor data is never copied, File.Data returns views into
// the mapping. Every count, length and offset is checked against the bytes
// the file actually has before anything is allocated for it, and the Go
// memory of the decoded metadata (string and slice headers included) is
// charged against a budget of MemoryBudgetFactor times the file's size, so
// a corrupt or hostile file costs at most a small multiple of its own size
// in memory and gives an error naming the file and the field, never a
// panic. Tensor data may sit at any alignment the file declares (1 and 2
// included): views are plain bytes, and the engine copies a tensor whose
// bytes are not aligned for its element type.
//
// The format is simple and no maintained Go library offers both an mmap
// reader with these size budgets and a writer whose output llama.cpp loads,
// so it is written here (following ggml's gguf.cpp and gguf-py).
package gguf
