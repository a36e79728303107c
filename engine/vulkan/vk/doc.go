// Package vk is a minimal hand-written Vulkan 1.1 binding for compute:
// instance (with the Khronos validation layer and a VK_EXT_debug_utils
// messenger on request), physical devices, a logical device with one
// queue, buffers and memory, shader modules, storage-buffer descriptor
// sets, compute pipelines with push constants, command buffers, barriers,
// submission and fences.
//
// It loads libvulkan.so.1 at run time through purego (dlopen), so
// CGO_ENABLED=0 builds keep working and a machine without a Vulkan loader
// gets an error (wrapping ErrNoLoader), not a link failure. It is written
// by hand because no Go Vulkan module is available from the module proxy
// these builds use (vulkan-go/vulkan, goki/vulkan, vkngwrapper/core and
// others are refused), and compute needs only about forty entry points.
//
// The structs mirror vulkan_core.h for 64-bit platforms; Load asserts
// their sizes, and TestLayoutMatchesVulkanCore compares every size and
// field offset with what gcc computes from the installed header.
package vk
