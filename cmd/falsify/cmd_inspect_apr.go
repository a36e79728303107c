package main

import (
	"fmt"
	"slices"

	"github.com/falsify/falsify/engine/apr"
)

func init() { inspectors[".apr"] = inspectAPR }

// inspectAPR describes an APR v2 file. apr.Open verifies both checksums
// (a file with a bad one is an error, not an inspection), so the CRCs
// reported valid were recomputed and compared; Extra carries the header
// facts: magic, version, flags, CRCs, section offsets.
func inspectAPR(path string, full bool) (*inspection, error) {
	f, err := apr.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := f.Header
	info := &inspection{Path: path, Format: "apr", Version: fmt.Sprintf("%d.%d", h.Major, h.Minor), Size: f.Size(),
		Metadata: []inspectKV{}, Tensors: []inspectTensor{}}
	md := f.Metadata
	for _, k := range md.Keys() {
		v, _ := md.Get(k)
		info.Metadata = append(info.Metadata, describeJSONValue(k, v, full))
	}
	var legacy []string
	for _, t := range f.Tensors {
		info.Tensors = append(info.Tensors, inspectTensor{Name: t.Name, Type: t.DType.String(), Dims: t.Dims, Offset: h.DataOffset + t.Offset, Bytes: t.Size})
		if t.Code != uint8(t.DType) {
			legacy = append(legacy, fmt.Sprintf("%s (id %d)", t.Name, t.Code))
		}
	}
	info.summarize()
	info.Extra = map[string]any{
		"magic":               fmt.Sprintf("%q", h.Magic[:]),
		"version":             info.Version,
		"flags":               h.Flags.Names(),
		"flags_raw":           fmt.Sprintf("0x%04x", uint16(h.Flags)),
		"header_crc":          fmt.Sprintf("0x%08x", h.Checksum),
		"header_crc_valid":    true,
		"footer_crc":          fmt.Sprintf("0x%08x", f.Footer),
		"footer_crc_valid":    true,
		"metadata_offset":     h.MetadataOffset,
		"metadata_size":       h.MetadataSize,
		"tensor_index_offset": h.TensorIndexOffset,
		"data_offset":         h.DataOffset,
	}
	if len(legacy) > 0 {
		info.Extra["legacy_dtype_ids"] = legacy
	}
	return info, nil
}

// describeJSONValue describes one decoded JSON metadata value; arrays and
// objects are cut to previewLen elements (objects: the first keys in
// sorted order) unless full.
func describeJSONValue(key string, v any, full bool) inspectKV {
	kv := inspectKV{Key: key, Type: jsonTypeName(v), Value: v}
	switch x := v.(type) {
	case []any:
		n := len(x)
		kv.Length = &n
		kv.Type = "array"
		if n > 0 {
			kv.Type = "array[" + jsonTypeName(x[0]) + "]"
		}
		if !full && n > previewLen {
			kv.Value = x[:previewLen]
		}
	case map[string]any:
		n := len(x)
		kv.Length = &n
		if !full && n > previewLen {
			keys := make([]string, 0, n)
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			cut := make(map[string]any, previewLen)
			for _, k := range keys[:previewLen] {
				cut[k] = x[k]
			}
			kv.Value = cut
		}
	}
	return kv
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}
