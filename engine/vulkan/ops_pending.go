package vulkan

import (
	"fmt"

	"github.com/falsify/falsify/engine/backend"
)

// The non-matmul operations are written in ops.go (branch vk-ops); until
// that is merged, each one fails the context with a clear error so a run
// can never pass without them. vk-ops deletes this file.

func (c *context) pending(op string) {
	c.fail(fmt.Errorf("vulkan: %s is not implemented in this build", op))
}

func (c *context) Embed(dst backend.Tensor, table backend.Weight, tokens []int32) { c.pending("Embed") }
func (c *context) RMSNorm(dst, x backend.Tensor, w backend.Weight, n int, eps float32) {
	c.pending("RMSNorm")
}
func (c *context) AddBias(dst backend.Tensor, stride, off, n int, b backend.Weight) {
	c.pending("AddBias")
}
func (c *context) QKNorm(qkv backend.Tensor, n int, qNorm, kNorm backend.Weight) { c.pending("QKNorm") }
func (c *context) RoPE(qkv backend.Tensor, n, pos int)                           { c.pending("RoPE") }
func (c *context) KVWrite(k, v, qkv backend.Tensor, n, pos int)                  { c.pending("KVWrite") }
func (c *context) Attention(dst, qkv, k, v backend.Tensor, n, pos int)           { c.pending("Attention") }
func (c *context) SiLU(dst, x backend.Tensor, n int)                             { c.pending("SiLU") }
func (c *context) Mul(dst, x backend.Tensor, n int)                              { c.pending("Mul") }
func (c *context) Add(dst, x backend.Tensor, n int)                              { c.pending("Add") }

var _ backend.Context = (*context)(nil)
