// Package gguf reads and writes GGUF v2/v3 model files, the container of
// llama.cpp: a header, typed metadata, tensor descriptions and aligned
// tensor data.
//
// Open maps the file into memory (internal/mmapfile) and parses the
// header in place; tensor data is never copied, File.Data returns views into
// the mapping. Every count, length and offset is checked against the bytes
// the file actually has before anything is allocated for it, so a corrupt
// or hostile file costs at most its own size in memory and gives an error
// naming the file and the field, never a panic.
//
// The format is simple and no maintained Go library offers both an mmap
// reader with these size budgets and a writer whose output llama.cpp loads,
// so it is written here (following ggml's gguf.cpp and gguf-py).
package gguf
