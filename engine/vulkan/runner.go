package vulkan

import (
	"embed"
	"encoding/binary"
	"fmt"
	"io/fs"
	"reflect"

	"github.com/falsify/falsify/engine/vulkan/vk"
)

// The runner: buffers, pipelines built from the embedded SPIR-V, and a
// context's recording of dispatches into one command buffer that is
// submitted at Read (see context.go).

//go:generate sh shaders/build.sh

//go:embed shaders/spv/*.spv
var spvFS embed.FS

// extraShaders are SPIR-V modules tests add under their own names.
var extraShaders = map[string][]byte{}

// shaderSPV returns the SPIR-V of the named shader (file name less .spv).
func shaderSPV(name string) ([]byte, error) {
	if b, ok := extraShaders[name]; ok {
		return b, nil
	}
	b, err := fs.ReadFile(spvFS, "shaders/spv/"+name+".spv")
	if err != nil {
		return nil, fmt.Errorf("no shader %q in this build", name)
	}
	return b, nil
}

// memTypes are the memory type indices the backend uses (-1: none).
type memTypes struct {
	device   int  // device-local (weights, activations)
	deviceHV bool // device is also host-visible and coherent: weights are written directly
	upload   int  // host-visible, coherent if any is (staging to the device)
	uploadCo bool
	readback int // host-visible, cached if any is (copies from the device)
	readCo   bool
	props    vk.PhysicalDeviceMemoryProperties
}

func findMemTypes(p vk.PhysicalDeviceMemoryProperties) memTypes {
	m := memTypes{device: -1, upload: -1, readback: -1, props: p}
	score := func(flags uint32, want []uint32) int {
		for i, w := range want {
			if flags&w == w {
				return len(want) - i
			}
		}
		return 0
	}
	// best is the type meeting the earliest of want, on the largest heap
	// among those (system memory rather than a GPU's small BAR window).
	best := func(want ...uint32) int {
		idx, top, heap := -1, 0, uint64(0)
		for i := range p.MemoryTypeCount {
			t := p.MemoryTypes[i]
			s, size := score(t.PropertyFlags, want), p.MemoryHeaps[t.HeapIndex].Size
			if s > top || (s == top && s > 0 && size > heap) {
				idx, top, heap = int(i), s, size
			}
		}
		return idx
	}
	const (
		dl = vk.MemoryPropertyDeviceLocalBit
		hv = vk.MemoryPropertyHostVisibleBit
		hc = vk.MemoryPropertyHostCoherentBit
		ca = vk.MemoryPropertyHostCachedBit
	)
	// Device memory: the device-local type on the largest heap (a GPU's
	// small host-visible BAR window is device-local too, and too small
	// for a model), else host-visible memory (a device without local
	// memory still computes).
	m.device = -1
	var heap uint64
	for i := range p.MemoryTypeCount {
		t := p.MemoryTypes[i]
		if t.PropertyFlags&dl != 0 {
			if size := p.MemoryHeaps[t.HeapIndex].Size; m.device < 0 || size > heap {
				m.device, heap = int(i), size
			}
		}
	}
	if m.device < 0 {
		m.device = best(hv | hc)
	}
	if m.device >= 0 {
		m.deviceHV = p.MemoryTypes[m.device].PropertyFlags&(hv|hc) == hv|hc
	}
	m.upload = best(hv|hc, hv)
	m.readback = best(hv|hc|ca, hv|ca, hv|hc, hv)
	if m.upload >= 0 {
		m.uploadCo = p.MemoryTypes[m.upload].PropertyFlags&hc != 0
	}
	if m.readback >= 0 {
		m.readCo = p.MemoryTypes[m.readback].PropertyFlags&hc != 0
	}
	return m
}

// buffer is a VkBuffer with its own memory; mapped is set for
// host-visible buffers (mapped for their lifetime).
type buffer struct {
	b        vk.Buffer
	mem      vk.DeviceMemory
	size     uint64
	mapped   []byte
	coherent bool
}

// newBuffer makes a buffer of size bytes (at least 4) in memory type
// typ, mapped when host is set. Its usage allows storage and both
// transfer directions.
func (b *Backend) newBuffer(size uint64, typ int, host bool) (*buffer, error) {
	size = max(4, (size+3)&^3)
	vb, err := b.dev.CreateBuffer(size, vk.BufferUsageStorageBufferBit|vk.BufferUsageTransferSrcBit|vk.BufferUsageTransferDstBit)
	if err != nil {
		return nil, err
	}
	req := b.dev.BufferMemoryRequirements(vb)
	if req.MemoryTypeBits&(1<<typ) == 0 {
		// The chosen type cannot back this buffer: the first one that
		// can with the same property flags.
		want := b.mem.props.MemoryTypes[typ].PropertyFlags
		typ = -1
		for i := range b.mem.props.MemoryTypeCount {
			if req.MemoryTypeBits&(1<<i) != 0 && b.mem.props.MemoryTypes[i].PropertyFlags&want == want {
				typ = int(i)
				break
			}
		}
		if typ < 0 {
			b.dev.DestroyBuffer(vb)
			return nil, fmt.Errorf("no memory type for a %d-byte buffer (allowed types %#b)", size, req.MemoryTypeBits)
		}
	}
	mem, err := b.dev.AllocateMemory(req.Size, uint32(typ))
	if err != nil {
		b.dev.DestroyBuffer(vb)
		return nil, fmt.Errorf("allocate %d bytes: %w", req.Size, err)
	}
	buf := &buffer{b: vb, mem: mem, size: size, coherent: b.mem.props.MemoryTypes[typ].PropertyFlags&vk.MemoryPropertyHostCoherentBit != 0}
	if err := b.dev.BindBufferMemory(vb, mem); err != nil {
		buf.free(b.dev)
		return nil, err
	}
	if host {
		if buf.mapped, err = b.dev.MapMemory(mem, size); err != nil {
			buf.free(b.dev)
			return nil, err
		}
	}
	return buf, nil
}

func (buf *buffer) free(d *vk.Dev) {
	if buf.mapped != nil {
		d.UnmapMemory(buf.mem)
		buf.mapped = nil
	}
	d.DestroyBuffer(buf.b)
	d.FreeMemory(buf.mem)
}

// uploadWeight copies data to a new device-local buffer: directly where
// that memory is host-visible (lavapipe, integrated GPUs), else through
// a staging buffer and a copy on the queue.
func (b *Backend) uploadWeight(data []byte) (*buffer, error) {
	if b.mem.deviceHV {
		buf, err := b.newBuffer(uint64(len(data)), b.mem.device, true)
		if err != nil {
			return nil, err
		}
		copy(buf.mapped, data)
		if !buf.coherent {
			if err := b.dev.FlushMapped(buf.mem); err != nil {
				buf.free(b.dev)
				return nil, err
			}
		}
		// Mapped for the buffer's life is allowed; unmap now since the
		// host never touches it again.
		b.dev.UnmapMemory(buf.mem)
		buf.mapped = nil
		return buf, nil
	}
	buf, err := b.newBuffer(uint64(len(data)), b.mem.device, false)
	if err != nil {
		return nil, err
	}
	stage, err := b.newBuffer(uint64(len(data)), b.mem.upload, true)
	if err != nil {
		buf.free(b.dev)
		return nil, err
	}
	defer stage.free(b.dev)
	copy(stage.mapped, data)
	if !stage.coherent {
		if err := b.dev.FlushMapped(stage.mem); err != nil {
			buf.free(b.dev)
			return nil, err
		}
	}
	err = b.oneShot(func(cb vk.CommandBuffer) { b.dev.CmdCopyBuffer(cb, stage.b, buf.b, 0, 0, stage.size) })
	if err != nil {
		buf.free(b.dev)
		return nil, err
	}
	return buf, nil
}

// oneShot records fn into a temporary command buffer, submits it and
// waits (weight uploads, outside any context).
func (b *Backend) oneShot(fn func(cb vk.CommandBuffer)) error {
	pool, err := b.dev.CreateCommandPool(b.family)
	if err != nil {
		return err
	}
	defer b.dev.DestroyCommandPool(pool)
	fence, err := b.dev.CreateFence()
	if err != nil {
		return err
	}
	defer b.dev.DestroyFence(fence)
	cb, err := b.dev.AllocateCommandBuffer(pool)
	if err != nil {
		return err
	}
	if err := b.dev.Begin(cb); err != nil {
		return err
	}
	fn(cb)
	if err := b.dev.End(cb); err != nil {
		return err
	}
	b.queueMu.Lock()
	err = b.dev.Submit(cb, fence)
	b.queueMu.Unlock()
	if err != nil {
		return err
	}
	return b.dev.WaitFence(fence, fenceTimeoutNs)
}

// fenceTimeoutNs bounds one submission's wait: far beyond any forward
// pass of the models this backend runs, so only a hung device trips it.
const fenceTimeoutNs = 600e9

// maxPushBytes is the push-constant range every pipeline layout declares
// (the minimum maxPushConstantsSize every device supports).
const maxPushBytes = 128

// pipeline is a compute pipeline with a layout of nbuf storage buffers.
type pipeline struct {
	name   string
	nbuf   int
	module vk.ShaderModule
	set    vk.DescriptorSetLayout
	layout vk.PipelineLayout
	p      vk.Pipeline
}

func (p *pipeline) destroy(d *vk.Dev) {
	d.DestroyPipeline(p.p)
	d.DestroyPipelineLayout(p.layout)
	d.DestroyDescriptorSetLayout(p.set)
	d.DestroyShaderModule(p.module)
}

// pipeline returns the named shader's pipeline for nbuf bindings,
// building it on first use (contexts share it).
func (b *Backend) pipeline(name string, nbuf int) (*pipeline, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.pipes[name]; ok {
		if p.nbuf != nbuf {
			return nil, fmt.Errorf("shader %s bound with %d buffers, built for %d", name, nbuf, p.nbuf)
		}
		return p, nil
	}
	code, err := shaderSPV(name)
	if err != nil {
		return nil, err
	}
	if len(code)%4 != 0 || len(code) == 0 {
		return nil, fmt.Errorf("shader %s: %d bytes is not SPIR-V", name, len(code))
	}
	words := make([]uint32, len(code)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	p := &pipeline{name: name, nbuf: nbuf}
	fail := func(err error) (*pipeline, error) {
		p.destroy(b.dev) // destroying null handles is a no-op
		return nil, fmt.Errorf("shader %s: %w", name, err)
	}
	if p.module, err = b.dev.CreateShaderModule(words); err != nil {
		return fail(err)
	}
	if p.set, err = b.dev.CreateStorageSetLayout(nbuf); err != nil {
		return fail(err)
	}
	if p.layout, err = b.dev.CreatePipelineLayout(p.set, maxPushBytes); err != nil {
		return fail(err)
	}
	if p.p, err = b.dev.CreateComputePipeline(p.module, p.layout); err != nil {
		return fail(err)
	}
	b.pipes[name] = p
	return p, nil
}

// pushBytes encodes push constants: a struct (or pointer to one) of
// 4-byte fields (uint32, int32, float32 and arrays of them), little-endian
// as GLSL's std430 push-constant block lays them out; nil is none.
func pushBytes(push any) ([]byte, error) {
	if push == nil {
		return nil, nil
	}
	v := reflect.Indirect(reflect.ValueOf(push))
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("push constants must be a struct, got %T", push)
	}
	b, err := binary.Append(nil, binary.LittleEndian, push)
	if err != nil {
		return nil, fmt.Errorf("push constants %T: %w", push, err)
	}
	if len(b) > maxPushBytes {
		return nil, fmt.Errorf("push constants %T: %d bytes, at most %d", push, len(b), maxPushBytes)
	}
	var check func(t reflect.Type) error
	check = func(t reflect.Type) error {
		switch t.Kind() {
		case reflect.Uint32, reflect.Int32, reflect.Float32:
			return nil
		case reflect.Array:
			return check(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				if err := check(t.Field(i).Type); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("push constants %T: field of type %s is not a 4-byte scalar", push, t)
	}
	return b, check(v.Type())
}
