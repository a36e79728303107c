// Package mmapfile maps model files into memory read-only, for the
// container readers (gguf, apr), which parse in place and hand out tensor
// views instead of copying weights.
package mmapfile
