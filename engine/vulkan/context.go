package vulkan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/vulkan/vk"
)

// context is one sequence's state: its tensors (device-local buffers), a
// command buffer that records every operation until the next Read, a
// descriptor pool for the recorded dispatches' bindings, a host-visible
// upload ring (Write, token ids) and a readback buffer.
type context struct {
	b   *Backend
	cfg backend.ContextConfig

	pool      vk.CommandPool
	cb        vk.CommandBuffer
	fence     vk.Fence
	dpool     vk.DescriptorPool
	recording bool // cb is begun and holds commands not yet submitted
	empty     bool // nothing recorded since Begin (no barrier needed)
	sets      int  // descriptor sets allocated from dpool since its reset

	up    *buffer // upload ring, reset at every submit
	upOff uint64
	rb    *buffer // readback
	host  []float32

	q81    *buffer   // the quantized mode's Q8_1 activations (matmul.go)
	bufs   []*buffer // tensors' buffers, freed at Close
	err    error     // first failure since the last Read
	closed bool
}

// Per-submission capacities: a forward pass of a 24-layer model records
// ~20 dispatches per layer; past them the context submits early.
const (
	maxSetsPerSubmit = 2048
	maxBufsPerSet    = 8
	uploadRingBytes  = 1 << 20
)

// tensor is a backend.Tensor: n float32 values from element off of buf.
type tensor struct {
	buf *buffer
	off int
	n   int
}

func (t *tensor) Len() int { return t.n }

// weight is a model weight uploaded to buf (its raw GGUF bytes).
type weight struct {
	backend.WeightInfo
	buf *buffer
}

func (w *weight) Info() backend.WeightInfo { return w.WeightInfo }

// tens returns the tensor behind t; it panics for another backend's
// tensor (a programmer error).
func tens(t backend.Tensor) *tensor { return t.(*tensor) }

// wt returns the weight behind w (panics for another backend's).
func wt(w backend.Weight) *weight { return w.(*weight) }

// NewContext makes a context: its command pool and buffer, fence,
// descriptor pool, upload ring and readback buffer.
func (b *Backend) NewContext(cfg backend.ContextConfig) (backend.Context, error) {
	if err := backend.CheckContextConfig(cfg); err != nil {
		return nil, err
	}
	c := &context{b: b, cfg: cfg}
	err := func() (err error) {
		if c.pool, err = b.dev.CreateCommandPool(b.family); err != nil {
			return err
		}
		if c.cb, err = b.dev.AllocateCommandBuffer(c.pool); err != nil {
			return err
		}
		if c.fence, err = b.dev.CreateFence(); err != nil {
			return err
		}
		if c.dpool, err = b.dev.CreateStoragePool(maxSetsPerSubmit, maxSetsPerSubmit*maxBufsPerSet); err != nil {
			return err
		}
		if c.up, err = b.newBuffer(uploadRingBytes, b.mem.upload, true); err != nil {
			return err
		}
		c.rb, err = b.newBuffer(uploadRingBytes, b.mem.readback, true)
		return err
	}()
	if err != nil {
		c.release()
		return nil, fmt.Errorf("vulkan: new context: %w", err)
	}
	b.mu.Lock()
	b.contexts++
	b.mu.Unlock()
	return c, nil
}

// fail keeps the first error since the last Read.
func (c *context) fail(err error) {
	if c.err == nil && err != nil {
		c.err = err
	}
}

// begin makes sure the command buffer is recording and orders the next
// command after every one recorded before it (a global barrier between
// any compute or transfer access).
func (c *context) begin() bool {
	if c.closed {
		c.fail(errors.New("vulkan: operation on a closed context"))
		return false
	}
	if !c.recording {
		if err := c.b.dev.Begin(c.cb); err != nil {
			c.fail(err)
			return false
		}
		c.recording, c.empty = true, true
		return true
	}
	if !c.empty {
		const stages = vk.PipelineStageComputeShaderBit | vk.PipelineStageTransferBit
		c.b.dev.CmdBarrier(c.cb, stages, stages,
			vk.AccessShaderWriteBit|vk.AccessTransferWriteBit,
			vk.AccessShaderReadBit|vk.AccessShaderWriteBit|vk.AccessTransferReadBit|vk.AccessTransferWriteBit)
	}
	return true
}

// flush submits what is recorded and waits for it; then the upload ring
// and the descriptor pool are free again.
func (c *context) flush() error {
	if !c.recording {
		return nil
	}
	c.recording = false
	d := c.b.dev
	if !c.empty {
		// Device writes made visible to the host reads after the fence.
		d.CmdBarrier(c.cb, vk.PipelineStageComputeShaderBit|vk.PipelineStageTransferBit, vk.PipelineStageHostBit,
			vk.AccessShaderWriteBit|vk.AccessTransferWriteBit, vk.AccessHostReadBit)
	}
	err := d.End(c.cb)
	if err == nil {
		c.b.queueMu.Lock()
		err = d.Submit(c.cb, c.fence)
		c.b.queueMu.Unlock()
		if err == nil {
			err = d.WaitFence(c.fence, fenceTimeoutNs)
		}
	}
	if err == nil {
		err = d.Reset(c.cb)
	}
	if err == nil && c.sets > 0 {
		err = d.ResetDescriptorPool(c.dpool)
	}
	c.sets, c.upOff = 0, 0
	if err != nil {
		return fmt.Errorf("vulkan: submit: %w", err)
	}
	return nil
}

// dispatch records the named shader (shaders/spv/<shader>.spv) over
// groups workgroups, with push as its push constants (a struct of 4-byte
// fields, or nil) and bufs bound, whole, to bindings 0..len(bufs)-1 of
// set 0. Failures are kept for the next Read.
func (c *context) dispatch(shader string, push any, groups [3]uint32, bufs ...*buffer) {
	if c.err != nil {
		return // the context already failed; Read reports it
	}
	if len(bufs) > maxBufsPerSet {
		c.fail(fmt.Errorf("vulkan: shader %s: %d buffers, at most %d", shader, len(bufs), maxBufsPerSet))
		return
	}
	lim := c.b.limits.MaxComputeWorkGroupCount
	for i, g := range groups {
		if g == 0 || g > lim[i] {
			c.fail(fmt.Errorf("vulkan: shader %s: %v workgroups (device limit %v)", shader, groups, lim))
			return
		}
	}
	p, err := c.b.pipeline(shader, len(bufs))
	if err != nil {
		c.fail(fmt.Errorf("vulkan: %w", err))
		return
	}
	pb, err := pushBytes(push)
	if err != nil {
		c.fail(fmt.Errorf("vulkan: shader %s: %w", shader, err))
		return
	}
	if c.sets == maxSetsPerSubmit {
		if err := c.flush(); err != nil {
			c.fail(err)
			return
		}
	}
	d := c.b.dev
	set, err := d.AllocateDescriptorSet(c.dpool, p.set)
	if err != nil {
		c.fail(fmt.Errorf("vulkan: shader %s: %w", shader, err))
		return
	}
	c.sets++
	infos := make([]vk.DescriptorBufferInfo, len(bufs))
	for i, buf := range bufs {
		if buf == nil {
			c.fail(fmt.Errorf("vulkan: shader %s: binding %d has no buffer", shader, i))
			return
		}
		infos[i] = vk.DescriptorBufferInfo{Buffer: buf.b, Range: vk.WholeSize}
	}
	d.WriteStorageBuffers(set, infos)
	if !c.begin() {
		return
	}
	d.CmdBindComputePipeline(c.cb, p.p)
	d.CmdBindDescriptorSet(c.cb, p.layout, set)
	d.CmdPushConstants(c.cb, p.layout, pb)
	d.CmdDispatch(c.cb, groups[0], groups[1], groups[2])
	c.empty = false
}

// grid returns workgroup counts for n workgroups in all, as (x, y, 1)
// with x at most 65535 (the smallest maxComputeWorkGroupCount a device
// may have); a shader finds its index as
// gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x and skips
// indices >= n.
func grid(n int) [3]uint32 {
	const maxX = 65535
	if n <= maxX {
		return [3]uint32{uint32(max(n, 1)), 1, 1}
	}
	return [3]uint32{maxX, uint32((n + maxX - 1) / maxX), 1}
}

// upload copies data (whose length is a multiple of 4) into the upload
// ring and returns the ring's buffer and the data's offset in 4-byte
// words there. The data stays valid for the dispatches recorded until
// the next submit: call it right before the dispatch that reads it.
func (c *context) upload(data []byte) (*buffer, uint32) {
	if c.up == nil {
		c.fail(errors.New("vulkan: the context has no upload ring (closed, or its growth failed)"))
		return nil, 0
	}
	n := (uint64(len(data)) + 3) &^ 3
	if c.upOff+n > c.up.size {
		if err := c.flush(); err != nil {
			c.fail(err)
			return c.up, 0
		}
		if n > c.up.size {
			c.up.free(c.b.dev)
			up, err := c.b.newBuffer(max(n, 2*c.up.size), c.b.mem.upload, true)
			if err != nil {
				c.up = nil
				c.fail(fmt.Errorf("vulkan: upload ring of %d bytes: %w", n, err))
				// A context without its ring cannot go on: later ops fail.
				c.closed = true
				return nil, 0
			}
			c.up = up
		}
	}
	off := c.upOff
	copy(c.up.mapped[off:], data)
	if !c.up.coherent {
		c.fail(c.b.dev.FlushMapped(c.up.mem))
	}
	c.upOff += n
	return c.up, uint32(off / 4)
}

// Alloc returns a zeroed device-local tensor of n float32 values (the
// zeroing is recorded like any other operation).
func (c *context) Alloc(n int) backend.Tensor {
	buf, err := c.b.newBuffer(uint64(n)*4, c.b.mem.device, false)
	if err != nil {
		c.fail(fmt.Errorf("vulkan: alloc %d floats: %w", n, err))
		return &tensor{n: n}
	}
	c.bufs = append(c.bufs, buf)
	if c.begin() {
		c.b.dev.CmdFillBuffer(c.cb, buf.b, 0, buf.size, 0)
		c.empty = false
	}
	return &tensor{buf: buf, n: n}
}

// View shares t's buffer from element off on.
func (c *context) View(t backend.Tensor, off, n int) backend.Tensor {
	tt := tens(t)
	if off < 0 || n < 0 || off+n > tt.n {
		c.fail(fmt.Errorf("vulkan: view [%d, %d) of a tensor of %d", off, off+n, tt.n))
	}
	return &tensor{buf: tt.buf, off: tt.off + off, n: n}
}

// Write records a copy of src (through the upload ring) into dst from
// element off on.
func (c *context) Write(dst backend.Tensor, off int, src []float32) {
	t := tens(dst)
	if len(src) == 0 {
		return
	}
	if off < 0 || off+len(src) > t.n || t.buf == nil {
		c.fail(fmt.Errorf("vulkan: write of %d floats at %d into a tensor of %d", len(src), off, t.n))
		return
	}
	up, word := c.upload(unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)))
	if up == nil || !c.begin() {
		return
	}
	c.b.dev.CmdCopyBuffer(c.cb, up.b, t.buf.b, uint64(word)*4, uint64(t.off+off)*4, uint64(len(src))*4)
	c.empty = false
}

// Read records a copy of src's first n values to the readback buffer,
// submits everything recorded, waits, and returns the values (valid until
// the next Read). Its error is the first failure since the last Read.
func (c *context) Read(src backend.Tensor, n int) ([]float32, error) {
	t := tens(src)
	if n < 0 || n > t.n {
		c.fail(fmt.Errorf("vulkan: read of %d floats from a tensor of %d", n, t.n))
	}
	bytes := uint64(n) * 4
	if c.rb == nil {
		c.fail(errors.New("vulkan: the context has no readback buffer (closed, or its growth failed)"))
	}
	if c.err == nil && n > 0 && bytes > c.rb.size {
		// A bigger readback buffer: the old one is idle once what is
		// recorded (which never touches it before this copy) is done.
		c.fail(c.flush())
		c.rb.free(c.b.dev)
		rb, err := c.b.newBuffer(max(bytes, 2*c.rb.size), c.b.mem.readback, true)
		if err != nil {
			c.rb = nil
			c.closed = true
			c.fail(fmt.Errorf("vulkan: readback buffer of %d bytes: %w", bytes, err))
		} else {
			c.rb = rb
		}
	}
	if c.err == nil && n > 0 && c.begin() {
		c.b.dev.CmdCopyBuffer(c.cb, t.buf.b, c.rb.b, uint64(t.off)*4, 0, bytes)
		c.empty = false
	}
	c.fail(c.flush())
	err := c.err
	c.err = nil
	if err != nil {
		return nil, err
	}
	if !c.rb.coherent {
		if err := c.b.dev.InvalidateMapped(c.rb.mem); err != nil {
			return nil, err
		}
	}
	if cap(c.host) < n {
		c.host = make([]float32, n)
	}
	c.host = c.host[:n]
	for i := range c.host {
		c.host[i] = math.Float32frombits(binary.LittleEndian.Uint32(c.rb.mapped[4*i:]))
	}
	return c.host, nil
}

// Close waits for recorded work and frees the context's objects. After
// the backend's Close (which reports contexts left open) it only marks the
// context closed: the device is gone.
func (c *context) Close() error {
	if c.closed && c.pool == 0 {
		return nil
	}
	c.b.mu.Lock()
	gone := c.b.closed
	c.b.mu.Unlock()
	if gone {
		c.closed, c.pool = true, 0
		return errors.New("vulkan: context closed after its backend")
	}
	err := c.flush()
	c.release()
	c.b.mu.Lock()
	c.b.contexts--
	c.b.mu.Unlock()
	return err
}

func (c *context) release() {
	d := c.b.dev
	for _, buf := range append(c.bufs, c.up, c.rb, c.q81) {
		if buf != nil {
			buf.free(d)
		}
	}
	c.bufs, c.up, c.rb, c.q81 = nil, nil, nil, nil
	if c.dpool != 0 {
		d.DestroyDescriptorPool(c.dpool)
	}
	if c.fence != 0 {
		d.DestroyFence(c.fence)
	}
	if c.pool != 0 {
		d.DestroyCommandPool(c.pool)
	}
	c.dpool, c.fence, c.pool, c.cb = 0, 0, 0, 0
	c.closed = true
}
