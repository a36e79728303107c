// Package golden runs contract engine-vs-llamacpp-golden-v1: the embedded
// engine against llama.cpp's own forward pass on the same model.
package golden
