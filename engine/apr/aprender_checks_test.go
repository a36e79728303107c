package apr_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/fixture"
)

// aprenderCheck is one structural check that aprender's APR v2 reader (or
// realizar's loader, or aprender's writer contract) makes, reimplemented
// here from aprender's source, independently of this package's reader:
// crates/apr-format/src/v2/{reader_impl,header_impl,tensor_index_impl,
// writer,streaming_writer}.rs and realizar's src/apr/metadata.rs.
type aprenderCheck struct {
	name   string
	check  func(b []byte) error
	breaks func(b []byte) []byte // a corruption the check must catch
}

// rawEntry is an index entry as TensorIndexEntry::from_bytes reads it.
type rawEntry struct {
	name         string
	dtype        byte
	dims         []uint64
	offset, size uint64
}

// readIndex walks the index the way parse_tensor_index_section does,
// failing where aprender fails.
func readIndex(b []byte) ([]rawEntry, error) {
	le := binary.LittleEndian
	pos := le.Uint64(b[24:])
	count := le.Uint32(b[8:])
	var out []rawEntry
	for i := range count {
		if pos > uint64(len(b)) {
			return nil, fmt.Errorf("entry %d: tensor index offset past end of file", i)
		}
		buf := b[pos:]
		if len(buf) < 4 {
			return nil, fmt.Errorf("entry %d: buffer too small", i)
		}
		n := int(le.Uint16(buf))
		if len(buf) < 2+n+18 {
			return nil, fmt.Errorf("entry %d: buffer too small for name", i)
		}
		e := rawEntry{name: string(buf[2 : 2+n]), dtype: buf[2+n]}
		ndim := int(buf[3+n])
		p := 4 + n
		for range ndim {
			if len(buf) < p+8 {
				return nil, fmt.Errorf("entry %d: buffer too small for shape", i)
			}
			e.dims = append(e.dims, le.Uint64(buf[p:]))
			p += 8
		}
		if len(buf) < p+16 {
			return nil, fmt.Errorf("entry %d: buffer too small for offset/size", i)
		}
		e.offset, e.size = le.Uint64(buf[p:]), le.Uint64(buf[p+8:])
		out = append(out, e)
		pos += uint64(p + 16)
	}
	return out, nil
}

func headerCRC(b []byte) uint32 {
	return crc32.ChecksumIEEE(append(append([]byte(nil), b[:40]...), b[44:64]...))
}

func metadataBytes(b []byte) ([]byte, error) {
	le := binary.LittleEndian
	off, size := le.Uint64(b[12:]), uint64(le.Uint32(b[20:]))
	if off > uint64(len(b)) || size > uint64(len(b))-off {
		return nil, errors.New("file too small for metadata")
	}
	return b[off : off+size], nil
}

// serdeKinds are AprV2Metadata's typed fields and what serde accepts for
// each: "string" (String), "u64", "string?" (Option<String>), "usize?",
// "u32?", "f32?", and the nested structs.
var serdeKinds = map[string]string{
	"model_type": "string", "total_size": "u64", "param_count": "u64",
	"name": "string?", "description": "string?", "author": "string?", "license": "string?",
	"data_source": "string?", "data_license": "string?", "version": "string?", "source": "string?",
	"original_format": "string?", "created_at": "string?", "chat_template": "string?",
	"chat_format": "string?", "architecture": "string?", "hf_architecture": "string?", "hf_model_type": "string?",
	"hidden_size": "usize?", "num_layers": "usize?", "num_heads": "usize?", "num_kv_heads": "usize?",
	"vocab_size": "usize?", "intermediate_size": "usize?", "max_position_embeddings": "usize?",
	"head_dim": "usize?", "num_experts": "usize?", "num_experts_per_tok": "usize?", "moe_intermediate_size": "usize?",
	"rope_theta": "f32?", "rms_norm_eps": "f32?", "rope_type": "u32?",
	"quantization": "quantization?", "sharding": "sharding?", "special_tokens": "special_tokens?",
}

func serdeCheck(kind string, v any) error {
	optional := strings.HasSuffix(kind, "?")
	kind = strings.TrimSuffix(kind, "?")
	if v == nil {
		if optional {
			return nil
		}
		return errors.New("invalid type: null")
	}
	isUint := func(limit uint64) error {
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("invalid type %T, expected integer", v)
		}
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil || u > limit {
			return fmt.Errorf("invalid value %s", n)
		}
		return nil
	}
	switch kind {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("invalid type %T, expected a string", v)
		}
	case "u64", "usize":
		return isUint(1<<64 - 1)
	case "u32":
		return isUint(1<<32 - 1)
	case "u8":
		return isUint(255)
	case "bool":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("invalid type %T, expected a bool", v)
		}
	case "f32":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("invalid type %T, expected f32", v)
		}
	case "quantization", "sharding", "special_tokens":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("invalid type %T, expected struct", v)
		}
		fields := map[string]map[string]string{
			"quantization":   {"quant_type": "string", "bits": "u8", "block_size": "usize?", "symmetric": "bool"},
			"sharding":       {"shard_count": "usize", "shard_index": "usize", "total_size": "u64", "pattern": "string?"},
			"special_tokens": {"bos_token": "string?", "eos_token": "string?", "unk_token": "string?", "pad_token": "string?", "im_start_token": "string?", "im_end_token": "string?"},
		}[kind]
		for f, k := range fields {
			x, present := obj[f]
			if !present && !strings.HasSuffix(k, "?") {
				return fmt.Errorf("missing field %q", f)
			}
			if err := serdeCheck(k, x); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return nil
}

// realizarAliases are realizar's AprMetadata serde aliases (PMAT-111).
var realizarAliases = [][]string{
	{"hidden_size", "hidden_dim", "d_model", "n_embd"},
	{"num_layers", "n_layers", "num_hidden_layers", "n_layer"},
	{"num_heads", "n_heads", "num_attention_heads", "n_head"},
	{"num_kv_heads", "n_kv_heads"},
	{"vocab_size", "n_vocab"},
	{"intermediate_size", "ffn_dim", "intermediate_dim", "n_inner"},
	{"max_position_embeddings", "max_seq_len", "context_length", "n_ctx"},
	{"rms_norm_eps", "layer_norm_eps", "norm_eps"},
}

// topLevelKeys decodes the metadata object, failing on duplicate keys as
// serde does for struct fields.
func topLevelKeys(meta []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(meta))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	out := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("duplicate field %q", k)
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing characters")
	}
	return out, nil
}

func align64(n uint64) uint64 { return (n + 63) / 64 * 64 }

// aprenderDTypeSize is the size aprender's writers give each dtype:
// TensorDType::from_u8's ids, bytes_per_element for the plain types, the
// AprQ4/AprQ8 contracts of add_q4_tensor/add_q8_tensor, and row-aligned
// 256-value super-blocks for Q4_K (144 bytes) and Q6_K (210 bytes).
func aprenderDTypeSize(dtype byte, dims []uint64) (uint64, bool) {
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	switch dtype {
	case 0, 4: // F32, I32
		return 4 * n, true
	case 1, 30: // F16, BF16
		return 2 * n, true
	case 3, 5: // F64, I64
		return 8 * n, true
	case 6, 7: // I8, U8
		return n, true
	case 8, 128: // AprQ4
		return (n + 31) / 32 * 18, true
	case 9, 129: // AprQ8
		if n == 0 {
			return 0, true
		}
		return 4 + n, true
	case 12, 14: // Q4_K, Q6_K
		cols := dims[len(dims)-1]
		bs := uint64(144)
		if dtype == 14 {
			bs = 210
		}
		return n / cols * ((cols + 255) / 256) * bs, true
	}
	return 0, false
}

var aprenderChecks = []aprenderCheck{
	{
		name:   "file holds the 64-byte header (AprV2Reader::from_bytes: HEADER_SIZE_V2)",
		check:  func(b []byte) error { return errIf(len(b) < 64, "file too small") },
		breaks: func(b []byte) []byte { return b[:63] },
	},
	{
		name:   `magic is MAGIC_V2 "APR\0" (AprV2Header::from_bytes)`,
		check:  func(b []byte) error { return errIf(string(b[:4]) != "APR\x00", "invalid magic %q", b[:4]) },
		breaks: func(b []byte) []byte { copy(b, "APR2"); return resign(b) },
	},
	{
		name: "header checksum: CRC-32 of bytes 0..40 and 44..64 equals the u32 at 40 (AprV2Header::verify_checksum)",
		check: func(b []byte) error {
			return errIf(headerCRC(b) != binary.LittleEndian.Uint32(b[40:]), "checksum mismatch")
		},
		breaks: func(b []byte) []byte { b[60] ^= 1; return b },
	},
	{
		name: "flags lack LAYOUT_COLUMN_MAJOR 0x0800 (AprV2Flags::is_layout_valid, LAYOUT-002)",
		check: func(b []byte) error {
			return errIf(binary.LittleEndian.Uint16(b[6:])&0x0800 != 0, "LAYOUT-002 violation")
		},
		breaks: func(b []byte) []byte { b[7] |= 0x08; return resign(b) },
	},
	{
		name:   "metadata_offset + metadata_size lies inside the file (parse_metadata_section)",
		check:  func(b []byte) error { _, err := metadataBytes(b); return err },
		breaks: func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], uint32(len(b))); return resign(b) },
	},
	{
		name: "metadata deserializes into AprV2Metadata: one JSON object, no duplicate field, known fields of serde's types (AprV2Metadata::from_json)",
		check: func(b []byte) error {
			meta, err := metadataBytes(b)
			if err != nil {
				return err
			}
			obj, err := topLevelKeys(meta)
			if err != nil {
				return err
			}
			for k, v := range obj {
				if kind, known := serdeKinds[k]; known {
					if err := serdeCheck(kind, v); err != nil {
						return fmt.Errorf("%s: %w", k, err)
					}
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte {
			return sameLengthJSON(b, `"model_type":"`, func(v string) string { return strings.Repeat("7", len(v)+2) })
		},
	},
	{
		name: "no field spelled twice to realizar's AprMetadata: a canonical key and a serde alias (PMAT-111), which makes realizar drop all metadata",
		check: func(b []byte) error {
			meta, err := metadataBytes(b)
			if err != nil {
				return err
			}
			obj, err := topLevelKeys(meta)
			if err != nil {
				return err
			}
			for _, group := range realizarAliases {
				var present []string
				for _, k := range group {
					if _, ok := obj[k]; ok {
						present = append(present, k)
					}
				}
				if len(present) > 1 {
					return fmt.Errorf("duplicate field %v", present)
				}
			}
			return nil
		},
		// "model_type" -> "hidden_dim": same length, and hidden_size is present.
		breaks: func(b []byte) []byte { return sameLengthKey(b, "model_type", "hidden_dim") },
	},
	{
		name:   "tensor index: tensor_count entries from tensor_index_offset, each with room for its name, dtype, ndim, dims, offset and size (TensorIndexEntry::from_bytes)",
		check:  func(b []byte) error { _, err := readIndex(b); return err },
		breaks: func(b []byte) []byte { binary.LittleEndian.PutUint64(b[24:], uint64(len(b)-3)); return resign(b) },
	},
	{
		name: "every dtype id is known to TensorDType::from_u8 (0 1 3 4 5 6 7 8 9 12 14 30 128 129)",
		check: func(b []byte) error {
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			for _, e := range idx {
				switch e.dtype {
				case 0, 1, 3, 4, 5, 6, 7, 8, 9, 12, 14, 30, 128, 129:
				default:
					return fmt.Errorf("%s: invalid dtype %d", e.name, e.dtype)
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte { dt, _, _, _, _ := entryFields(b, 0); b[dt] = 2; return resign(b) },
	},
	{
		name: "tensor names sorted byte-wise (parse_tensor_index_section: tensor index not sorted)",
		check: func(b []byte) error {
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			for i := 1; i < len(idx); i++ {
				if idx[i].name < idx[i-1].name {
					return errors.New("tensor index not sorted")
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte { b[entryPos(b, 0)+2] = 'z'; return resign(b) },
	},
	{
		name: "every tensor's data_offset + offset + size lies inside the file, without overflow (required_file_len, #2612; get_tensor_data)",
		check: func(b []byte) error {
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			data := binary.LittleEndian.Uint64(b[32:])
			for _, e := range idx {
				end := data + e.offset + e.size
				if end < data || end < e.offset || end > uint64(len(b)) {
					return fmt.Errorf("%s: extent past the end", e.name)
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte {
			_, _, _, off, _ := entryFields(b, 0)
			binary.LittleEndian.PutUint64(b[off:], uint64(len(b)))
			return resign(b)
		},
	},
	{
		name: "every tensor starts 64-byte aligned in the file (verify_alignment)",
		check: func(b []byte) error {
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			data := binary.LittleEndian.Uint64(b[32:])
			for _, e := range idx {
				if (data+e.offset)%64 != 0 {
					return fmt.Errorf("%s: not 64-byte aligned", e.name)
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte {
			_, _, _, off, _ := entryFields(b, 0)
			binary.LittleEndian.PutUint64(b[off:], 8)
			return resign(b)
		},
	},
	{
		name: "footer: the last 4 bytes are the CRC-32 of every byte before them (AprV2Writer::write, streaming_crc32_file)",
		check: func(b []byte) error {
			n := len(b) - 4
			return errIf(crc32.ChecksumIEEE(b[:n]) != binary.LittleEndian.Uint32(b[n:]), "footer CRC mismatch")
		},
		breaks: func(b []byte) []byte { b[len(b)-5] ^= 0x10; return b },
	},
	{
		name: "version 2.0 and LAYOUT_ROW_MAJOR 0x0400 set (AprV2Header::new, AprV2Writer::new)",
		check: func(b []byte) error {
			return errIf(b[4] != 2 || b[5] != 0 || binary.LittleEndian.Uint16(b[6:])&0x0400 == 0, "version %d.%d flags %#x", b[4], b[5], b[6:8])
		},
		breaks: func(b []byte) []byte { b[4] = 1; return resign(b) },
	},
	{
		name: "layout: metadata at 64, index at 64 + align64(metadata_size), data at index + align64(index length), zero padding, tensor data in index order each padded to 64 (AprV2Writer::write)",
		check: func(b []byte) error {
			le := binary.LittleEndian
			meta, idxOff, dataOff := le.Uint64(b[12:]), le.Uint64(b[24:]), le.Uint64(b[32:])
			size := uint64(le.Uint32(b[20:]))
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			var idxLen, off uint64
			for _, e := range idx {
				idxLen += 2 + uint64(len(e.name)) + 2 + 8*uint64(len(e.dims)) + 16
				if e.offset != off {
					return fmt.Errorf("%s at data offset %d, want %d", e.name, e.offset, off)
				}
				off += align64(e.size)
			}
			switch {
			case meta != 64 || idxOff != 64+align64(size) || dataOff != idxOff+align64(idxLen):
				return fmt.Errorf("offsets %d %d %d", meta, idxOff, dataOff)
			case dataOff+off+4 != uint64(len(b)):
				return fmt.Errorf("file is %d bytes, layout says %d", len(b), dataOff+off+4)
			case bytes.ContainsFunc(b[64+size:idxOff], func(r rune) bool { return r != 0 }) ||
				bytes.ContainsFunc(b[idxOff+idxLen:dataOff], func(r rune) bool { return r != 0 }):
				return errors.New("nonzero padding")
			}
			return nil
		},
		breaks: func(b []byte) []byte {
			le := binary.LittleEndian
			le.PutUint64(b[32:], le.Uint64(b[32:])-64)
			return resign(b)
		},
	},
	{
		name: "tensor sizes agree with dtype and shape (add_q8_tensor: 4+n; add_q4_tensor: ceil(n/32)*18; bytes_per_element; Q4_K/Q6_K super-blocks)",
		check: func(b []byte) error {
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			for _, e := range idx {
				want, ok := aprenderDTypeSize(e.dtype, e.dims)
				if !ok || e.size != want {
					return fmt.Errorf("%s: %d bytes, dtype %d %v takes %d", e.name, e.size, e.dtype, e.dims, want)
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte {
			_, _, _, _, sz := entryFields(b, 0)
			binary.LittleEndian.PutUint64(b[sz:], 4)
			return resign(b)
		},
	},
	{
		name: "names at most 256 bytes (MAX_TENSOR_NAME_LEN; to_bytes truncates longer ones) and at most 8 dims (to_bytes keeps 8)",
		check: func(b []byte) error {
			idx, err := readIndex(b)
			if err != nil {
				return err
			}
			for _, e := range idx {
				if len(e.name) > 256 || len(e.dims) > 8 {
					return fmt.Errorf("%.20s...: name %d bytes, %d dims", e.name, len(e.name), len(e.dims))
				}
			}
			return nil
		},
		breaks: func(b []byte) []byte { _, nd, _, _, _ := entryFields(b, 0); b[nd] = 9; return resign(b) },
	},
}

func errIf(cond bool, format string, args ...any) error {
	if cond {
		return fmt.Errorf(format, args...)
	}
	return nil
}

// sameLengthJSON replaces the string value after prefix in the metadata
// with repl(value), which must be as long as the quoted value.
func sameLengthJSON(b []byte, prefix string, repl func(string) string) []byte {
	meta, _ := metadataBytes(b)
	i := bytes.Index(meta, []byte(prefix))
	start := i + len(prefix) - 1 // the opening quote
	end := start + 1 + bytes.IndexByte(meta[start+1:], '"') + 1
	copy(meta[start:end], repl(string(meta[start+1:end-1])))
	return resign(b)
}

// sameLengthKey renames a metadata key to another of the same length.
func sameLengthKey(b []byte, from, to string) []byte {
	meta, _ := metadataBytes(b)
	i := bytes.Index(meta, []byte(`"`+from+`"`))
	copy(meta[i+1:], to)
	return resign(b)
}

// writtenFiles are files this package wrote: the small all-dtypes file
// and the conversions of the Q4_K_M (copied) and Q8_0 (F32 fallback)
// fixtures.
func writtenFiles(t *testing.T) map[string][]byte {
	files := map[string][]byte{"small": smallFile(t)}
	for _, name := range []string{"qwen2-tiny-q4_k_m", "qwen2-tiny-q8_0"} {
		path, ok := fixture.Path("models/" + name + ".gguf")
		if !ok {
			continue
		}
		_, a, _ := convertFixture(t, path)
		b, err := os.ReadFile(a.Path)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return files
}

// TestWrittenFilesPassAprenderChecks: every file this package writes
// passes every check of aprenderChecks.
func TestWrittenFilesPassAprenderChecks(t *testing.T) {
	for name, b := range writtenFiles(t) {
		for _, c := range aprenderChecks {
			if err := c.check(b); err != nil {
				t.Errorf("%s: %s: %v", name, c.name, err)
			}
		}
	}
}

// TestAprenderChecksCatchCorruption: each check fails on a file broken in
// the way it guards against, so passing it means something.
func TestAprenderChecksCatchCorruption(t *testing.T) {
	for name, b := range writtenFiles(t) {
		for _, c := range aprenderChecks {
			bad := c.breaks(bytes.Clone(b))
			if err := c.check(bad); err == nil {
				t.Errorf("%s: %s: passes a broken file", name, c.name)
			}
		}
	}
}
