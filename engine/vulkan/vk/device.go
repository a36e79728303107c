package vk

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The methods of Dev wrap one Vulkan call each (named in their errors);
// pointers the driver reads inside structs are pinned for the call.

// Destroy destroys the device (every object made from it must be gone).
func (d *Dev) Destroy() {
	if d.Handle != 0 {
		purego.SyscallN(d.p.DestroyDevice, uintptr(d.Handle), 0)
		d.Handle = 0
	}
}

// WaitIdle is vkDeviceWaitIdle.
func (d *Dev) WaitIdle() error {
	r, _, _ := purego.SyscallN(d.p.DeviceWaitIdle, uintptr(d.Handle))
	return check("vkDeviceWaitIdle", r)
}

// CreateBuffer makes an exclusive buffer of size bytes for usage.
func (d *Dev) CreateBuffer(size uint64, usage uint32) (Buffer, error) {
	ci := &BufferCreateInfo{SType: StructureTypeBufferCreateInfo, Size: size, Usage: usage}
	var b Buffer
	r, _, _ := purego.SyscallN(d.p.CreateBuffer, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&b)))
	return b, check("vkCreateBuffer", r)
}

// DestroyBuffer is vkDestroyBuffer.
func (d *Dev) DestroyBuffer(b Buffer) {
	purego.SyscallN(d.p.DestroyBuffer, uintptr(d.Handle), uintptr(b), 0)
}

// BufferMemoryRequirements is vkGetBufferMemoryRequirements.
func (d *Dev) BufferMemoryRequirements(b Buffer) MemoryRequirements {
	var m MemoryRequirements
	purego.SyscallN(d.p.GetBufferMemoryRequirements, uintptr(d.Handle), uintptr(b), uintptr(unsafe.Pointer(&m)))
	return m
}

// AllocateMemory allocates size bytes of memory type typeIndex.
func (d *Dev) AllocateMemory(size uint64, typeIndex uint32) (DeviceMemory, error) {
	ai := &MemoryAllocateInfo{SType: StructureTypeMemoryAllocateInfo, AllocationSize: size, MemoryTypeIndex: typeIndex}
	var m DeviceMemory
	r, _, _ := purego.SyscallN(d.p.AllocateMemory, uintptr(d.Handle), uintptr(unsafe.Pointer(ai)), 0, uintptr(unsafe.Pointer(&m)))
	return m, check("vkAllocateMemory", r)
}

// FreeMemory is vkFreeMemory.
func (d *Dev) FreeMemory(m DeviceMemory) {
	purego.SyscallN(d.p.FreeMemory, uintptr(d.Handle), uintptr(m), 0)
}

// BindBufferMemory binds m at offset 0 to b.
func (d *Dev) BindBufferMemory(b Buffer, m DeviceMemory) error {
	r, _, _ := purego.SyscallN(d.p.BindBufferMemory, uintptr(d.Handle), uintptr(b), uintptr(m), 0)
	return check("vkBindBufferMemory", r)
}

// MapMemory maps size bytes of m from offset 0 and returns them as a
// byte slice (valid until UnmapMemory or FreeMemory; the memory is not
// Go's).
func (d *Dev) MapMemory(m DeviceMemory, size uint64) ([]byte, error) {
	var p unsafe.Pointer
	r, _, _ := purego.SyscallN(d.p.MapMemory, uintptr(d.Handle), uintptr(m), 0, uintptr(size), 0, uintptr(unsafe.Pointer(&p)))
	if err := check("vkMapMemory", r); err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// UnmapMemory is vkUnmapMemory.
func (d *Dev) UnmapMemory(m DeviceMemory) {
	purego.SyscallN(d.p.UnmapMemory, uintptr(d.Handle), uintptr(m))
}

// FlushMapped makes host writes to all of m visible to the device (for
// memory that is not host-coherent).
func (d *Dev) FlushMapped(m DeviceMemory) error {
	rg := &MappedMemoryRange{SType: StructureTypeMappedMemoryRange, Memory: m, Size: WholeSize}
	r, _, _ := purego.SyscallN(d.p.FlushMappedMemoryRanges, uintptr(d.Handle), 1, uintptr(unsafe.Pointer(rg)))
	return check("vkFlushMappedMemoryRanges", r)
}

// InvalidateMapped makes device writes to all of m visible to the host.
func (d *Dev) InvalidateMapped(m DeviceMemory) error {
	rg := &MappedMemoryRange{SType: StructureTypeMappedMemoryRange, Memory: m, Size: WholeSize}
	r, _, _ := purego.SyscallN(d.p.InvalidateMappedMemoryRanges, uintptr(d.Handle), 1, uintptr(unsafe.Pointer(rg)))
	return check("vkInvalidateMappedMemoryRanges", r)
}

// CreateShaderModule makes a module from SPIR-V words.
func (d *Dev) CreateShaderModule(spirv []uint32) (ShaderModule, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&spirv[0])
	ci := &ShaderModuleCreateInfo{SType: StructureTypeShaderModuleCreateInfo, CodeSize: uintptr(4 * len(spirv)), PCode: unsafe.Pointer(&spirv[0])}
	var m ShaderModule
	r, _, _ := purego.SyscallN(d.p.CreateShaderModule, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&m)))
	return m, check("vkCreateShaderModule", r)
}

// DestroyShaderModule is vkDestroyShaderModule.
func (d *Dev) DestroyShaderModule(m ShaderModule) {
	purego.SyscallN(d.p.DestroyShaderModule, uintptr(d.Handle), uintptr(m), 0)
}

// CreateStorageSetLayout makes a descriptor set layout of n storage
// buffers at bindings 0..n-1, for the compute stage.
func (d *Dev) CreateStorageSetLayout(n int) (DescriptorSetLayout, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	ci := &DescriptorSetLayoutCreateInfo{SType: StructureTypeDescriptorSetLayoutCreateInfo, BindingCount: uint32(n)}
	if n > 0 {
		bs := make([]DescriptorSetLayoutBinding, n)
		for i := range bs {
			bs[i] = DescriptorSetLayoutBinding{Binding: uint32(i), DescriptorType: DescriptorTypeStorageBuffer, DescriptorCount: 1, StageFlags: ShaderStageComputeBit}
		}
		pin.Pin(&bs[0])
		ci.PBindings = unsafe.Pointer(&bs[0])
	}
	var l DescriptorSetLayout
	r, _, _ := purego.SyscallN(d.p.CreateDescriptorSetLayout, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&l)))
	return l, check("vkCreateDescriptorSetLayout", r)
}

// DestroyDescriptorSetLayout is vkDestroyDescriptorSetLayout.
func (d *Dev) DestroyDescriptorSetLayout(l DescriptorSetLayout) {
	purego.SyscallN(d.p.DestroyDescriptorSetLayout, uintptr(d.Handle), uintptr(l), 0)
}

// CreatePipelineLayout makes a layout of one descriptor set and a
// compute push-constant range of pushBytes (none when 0).
func (d *Dev) CreatePipelineLayout(set DescriptorSetLayout, pushBytes uint32) (PipelineLayout, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	sets := &set
	pin.Pin(sets)
	ci := &PipelineLayoutCreateInfo{SType: StructureTypePipelineLayoutCreateInfo, SetLayoutCount: 1, PSetLayouts: unsafe.Pointer(sets)}
	if pushBytes > 0 {
		pr := &PushConstantRange{StageFlags: ShaderStageComputeBit, Size: pushBytes}
		pin.Pin(pr)
		ci.PushConstantRangeCount, ci.PPushConstantRanges = 1, unsafe.Pointer(pr)
	}
	var l PipelineLayout
	r, _, _ := purego.SyscallN(d.p.CreatePipelineLayout, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&l)))
	return l, check("vkCreatePipelineLayout", r)
}

// DestroyPipelineLayout is vkDestroyPipelineLayout.
func (d *Dev) DestroyPipelineLayout(l PipelineLayout) {
	purego.SyscallN(d.p.DestroyPipelineLayout, uintptr(d.Handle), uintptr(l), 0)
}

// CreateComputePipeline makes a compute pipeline from module's "main".
func (d *Dev) CreateComputePipeline(module ShaderModule, layout PipelineLayout) (Pipeline, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	name := cstring("main")
	pin.Pin(name)
	ci := &ComputePipelineCreateInfo{SType: StructureTypeComputePipelineCreateInfo, Layout: layout,
		Stage: PipelineShaderStageCreateInfo{SType: StructureTypePipelineShaderStageCreateInfo, Stage: ShaderStageComputeBit, Module: module, PName: unsafe.Pointer(name)}}
	var p Pipeline
	r, _, _ := purego.SyscallN(d.p.CreateComputePipelines, uintptr(d.Handle), 0, 1, uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateComputePipelines", r)
}

// DestroyPipeline is vkDestroyPipeline.
func (d *Dev) DestroyPipeline(p Pipeline) {
	purego.SyscallN(d.p.DestroyPipeline, uintptr(d.Handle), uintptr(p), 0)
}

// CreateStoragePool makes a descriptor pool of maxSets sets holding
// storageBuffers storage-buffer descriptors in all.
func (d *Dev) CreateStoragePool(maxSets, storageBuffers uint32) (DescriptorPool, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	ps := &DescriptorPoolSize{Type: DescriptorTypeStorageBuffer, DescriptorCount: storageBuffers}
	pin.Pin(ps)
	ci := &DescriptorPoolCreateInfo{SType: StructureTypeDescriptorPoolCreateInfo, MaxSets: maxSets, PoolSizeCount: 1, PPoolSizes: unsafe.Pointer(ps)}
	var p DescriptorPool
	r, _, _ := purego.SyscallN(d.p.CreateDescriptorPool, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateDescriptorPool", r)
}

// DestroyDescriptorPool is vkDestroyDescriptorPool (its sets go with it).
func (d *Dev) DestroyDescriptorPool(p DescriptorPool) {
	purego.SyscallN(d.p.DestroyDescriptorPool, uintptr(d.Handle), uintptr(p), 0)
}

// ResetDescriptorPool frees every set allocated from p.
func (d *Dev) ResetDescriptorPool(p DescriptorPool) error {
	r, _, _ := purego.SyscallN(d.p.ResetDescriptorPool, uintptr(d.Handle), uintptr(p), 0)
	return check("vkResetDescriptorPool", r)
}

// AllocateDescriptorSet allocates one set of layout from pool.
func (d *Dev) AllocateDescriptorSet(pool DescriptorPool, layout DescriptorSetLayout) (DescriptorSet, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	l := &layout
	pin.Pin(l)
	ai := &DescriptorSetAllocateInfo{SType: StructureTypeDescriptorSetAllocateInfo, DescriptorPool: pool, DescriptorSetCount: 1, PSetLayouts: unsafe.Pointer(l)}
	var s DescriptorSet
	r, _, _ := purego.SyscallN(d.p.AllocateDescriptorSets, uintptr(d.Handle), uintptr(unsafe.Pointer(ai)), uintptr(unsafe.Pointer(&s)))
	return s, check("vkAllocateDescriptorSets", r)
}

// WriteStorageBuffers points bindings 0..len(infos)-1 of set at infos.
func (d *Dev) WriteStorageBuffers(set DescriptorSet, infos []DescriptorBufferInfo) {
	if len(infos) == 0 {
		return
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&infos[0])
	ws := make([]WriteDescriptorSet, len(infos))
	for i := range infos {
		ws[i] = WriteDescriptorSet{SType: StructureTypeWriteDescriptorSet, DstSet: set, DstBinding: uint32(i), DescriptorCount: 1,
			DescriptorType: DescriptorTypeStorageBuffer, PBufferInfo: unsafe.Pointer(&infos[i])}
	}
	purego.SyscallN(d.p.UpdateDescriptorSets, uintptr(d.Handle), uintptr(len(ws)), uintptr(unsafe.Pointer(&ws[0])), 0, 0)
}

// CreateCommandPool makes a pool for family whose buffers can be reset
// one by one.
func (d *Dev) CreateCommandPool(family uint32) (CommandPool, error) {
	ci := &CommandPoolCreateInfo{SType: StructureTypeCommandPoolCreateInfo, Flags: CommandPoolCreateResetCommandBufferBit, QueueFamilyIndex: family}
	var p CommandPool
	r, _, _ := purego.SyscallN(d.p.CreateCommandPool, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&p)))
	return p, check("vkCreateCommandPool", r)
}

// DestroyCommandPool is vkDestroyCommandPool (its buffers go with it).
func (d *Dev) DestroyCommandPool(p CommandPool) {
	purego.SyscallN(d.p.DestroyCommandPool, uintptr(d.Handle), uintptr(p), 0)
}

// AllocateCommandBuffer allocates one primary command buffer from pool.
func (d *Dev) AllocateCommandBuffer(pool CommandPool) (CommandBuffer, error) {
	ai := &CommandBufferAllocateInfo{SType: StructureTypeCommandBufferAllocateInfo, CommandPool: pool, Level: CommandBufferLevelPrimary, CommandBufferCount: 1}
	var cb CommandBuffer
	r, _, _ := purego.SyscallN(d.p.AllocateCommandBuffers, uintptr(d.Handle), uintptr(unsafe.Pointer(ai)), uintptr(unsafe.Pointer(&cb)))
	return cb, check("vkAllocateCommandBuffers", r)
}

// FreeCommandBuffer is vkFreeCommandBuffers of one buffer.
func (d *Dev) FreeCommandBuffer(pool CommandPool, cb CommandBuffer) {
	purego.SyscallN(d.p.FreeCommandBuffers, uintptr(d.Handle), uintptr(pool), 1, uintptr(unsafe.Pointer(&cb)))
}

// Begin starts recording cb for one submission.
func (d *Dev) Begin(cb CommandBuffer) error {
	bi := &CommandBufferBeginInfo{SType: StructureTypeCommandBufferBeginInfo, Flags: CommandBufferUsageOneTimeSubmitBit}
	r, _, _ := purego.SyscallN(d.p.BeginCommandBuffer, uintptr(cb), uintptr(unsafe.Pointer(bi)))
	return check("vkBeginCommandBuffer", r)
}

// End ends recording cb.
func (d *Dev) End(cb CommandBuffer) error {
	r, _, _ := purego.SyscallN(d.p.EndCommandBuffer, uintptr(cb))
	return check("vkEndCommandBuffer", r)
}

// Reset returns cb to the initial state.
func (d *Dev) Reset(cb CommandBuffer) error {
	r, _, _ := purego.SyscallN(d.p.ResetCommandBuffer, uintptr(cb), 0)
	return check("vkResetCommandBuffer", r)
}

// CmdBindComputePipeline binds p at the compute bind point.
func (d *Dev) CmdBindComputePipeline(cb CommandBuffer, p Pipeline) {
	purego.SyscallN(d.p.CmdBindPipeline, uintptr(cb), PipelineBindPointCompute, uintptr(p))
}

// CmdBindDescriptorSet binds set as set 0 of layout for compute.
func (d *Dev) CmdBindDescriptorSet(cb CommandBuffer, layout PipelineLayout, set DescriptorSet) {
	purego.SyscallN(d.p.CmdBindDescriptorSets, uintptr(cb), PipelineBindPointCompute, uintptr(layout), 0, 1, uintptr(unsafe.Pointer(&set)), 0, 0)
}

// CmdPushConstants pushes data at offset 0 for the compute stage.
func (d *Dev) CmdPushConstants(cb CommandBuffer, layout PipelineLayout, data []byte) {
	if len(data) == 0 {
		return
	}
	purego.SyscallN(d.p.CmdPushConstants, uintptr(cb), uintptr(layout), ShaderStageComputeBit, 0, uintptr(len(data)), uintptr(unsafe.Pointer(&data[0])))
}

// CmdDispatch records a dispatch of x*y*z workgroups.
func (d *Dev) CmdDispatch(cb CommandBuffer, x, y, z uint32) {
	purego.SyscallN(d.p.CmdDispatch, uintptr(cb), uintptr(x), uintptr(y), uintptr(z))
}

// CmdBarrier records a global memory barrier from srcStage's srcAccess
// to dstStage's dstAccess.
func (d *Dev) CmdBarrier(cb CommandBuffer, srcStage, dstStage, srcAccess, dstAccess uint32) {
	mb := &MemoryBarrier{SType: StructureTypeMemoryBarrier, SrcAccessMask: srcAccess, DstAccessMask: dstAccess}
	purego.SyscallN(d.p.CmdPipelineBarrier, uintptr(cb), uintptr(srcStage), uintptr(dstStage), 0, 1, uintptr(unsafe.Pointer(mb)), 0, 0, 0, 0)
}

// CmdCopyBuffer copies size bytes from src at srcOff to dst at dstOff.
func (d *Dev) CmdCopyBuffer(cb CommandBuffer, src, dst Buffer, srcOff, dstOff, size uint64) {
	rg := &BufferCopy{SrcOffset: srcOff, DstOffset: dstOff, Size: size}
	purego.SyscallN(d.p.CmdCopyBuffer, uintptr(cb), uintptr(src), uintptr(dst), 1, uintptr(unsafe.Pointer(rg)))
}

// CmdFillBuffer fills size bytes (a multiple of 4) of dst from off with
// the word data.
func (d *Dev) CmdFillBuffer(cb CommandBuffer, dst Buffer, off, size uint64, data uint32) {
	purego.SyscallN(d.p.CmdFillBuffer, uintptr(cb), uintptr(dst), uintptr(off), uintptr(size), uintptr(data))
}

// CreateFence makes an unsignaled fence.
func (d *Dev) CreateFence() (Fence, error) {
	ci := &FenceCreateInfo{SType: StructureTypeFenceCreateInfo}
	var f Fence
	r, _, _ := purego.SyscallN(d.p.CreateFence, uintptr(d.Handle), uintptr(unsafe.Pointer(ci)), 0, uintptr(unsafe.Pointer(&f)))
	return f, check("vkCreateFence", r)
}

// DestroyFence is vkDestroyFence.
func (d *Dev) DestroyFence(f Fence) {
	purego.SyscallN(d.p.DestroyFence, uintptr(d.Handle), uintptr(f), 0)
}

// Submit submits cb to the device's queue, signalling fence when done.
// The caller serializes submissions to the queue.
func (d *Dev) Submit(cb CommandBuffer, fence Fence) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	cbs := &cb
	pin.Pin(cbs)
	si := &SubmitInfo{SType: StructureTypeSubmitInfo, CommandBufferCount: 1, PCommandBuffers: unsafe.Pointer(cbs)}
	r, _, _ := purego.SyscallN(d.p.QueueSubmit, uintptr(d.Queue), 1, uintptr(unsafe.Pointer(si)), uintptr(fence))
	return check("vkQueueSubmit", r)
}

// WaitFence waits up to timeoutNs for f, then resets it.
func (d *Dev) WaitFence(f Fence, timeoutNs uint64) error {
	r, _, _ := purego.SyscallN(d.p.WaitForFences, uintptr(d.Handle), 1, uintptr(unsafe.Pointer(&f)), 1, uintptr(timeoutNs))
	if err := check("vkWaitForFences", r); err != nil {
		return err
	}
	if Result(int32(r)) == Timeout {
		return fmt.Errorf("vkWaitForFences: %w after %d ms (the device hung or the work is far too big)", Timeout, timeoutNs/1e6)
	}
	r, _, _ = purego.SyscallN(d.p.ResetFences, uintptr(d.Handle), 1, uintptr(unsafe.Pointer(&f)))
	return check("vkResetFences", r)
}
