// Package apr reads and writes APR v2 model files, the native container of
// the aprender project (specs/apr-v2.md), and converts GGUF models to APR
// the way aprender's importer does.
//
// A file is a 64-byte header (magic "APR\0", version 2.0, flags, section
// offsets, a CRC-32 of the header), a JSON metadata object, a tensor index
// sorted by name, 64-byte aligned tensor data and a CRC-32 footer over
// every preceding byte. Open maps the file into memory
// (golang.org/x/sys/unix.Mmap) and parses it in place: File.Data returns
// views into the mapping, never copies. Every count, length and offset is
// checked against the bytes the file has before anything is allocated for
// it, so a hostile file costs at most its own size in memory, and every
// problem is a *FormatError naming the file, the field and the offset,
// wrapping one of the sentinel errors (ErrBadMagic, ErrChecksum, ...).
//
// The format has no Go implementation; aprender's Rust crates are the
// reference (src/format/v2, crates/apr-format, and the serving crate
// realizar's apr loader, read with the search tool). It is written by hand
// here, following the spec page.
//
// # Decisions where the spec is silent or ambiguous
//
//   - Magic "APR\0" and "APR2" are accepted; "APR1" and "APRN" (aprender's
//     older formats) are refused with ErrOldFormat. Version major must be
//     2; any minor is accepted. Reserved header bytes are not checked
//     (the header CRC covers them).
//   - Flags: LZ4, ZSTD, ENCRYPTED, SIGNED and SHARDED files are refused
//     (ErrUnsupported): their payload is not plain tensors in this file.
//     LAYOUT_COLUMN_MAJOR is refused (ErrColumnMajor) as aprender refuses
//     it. Other bits, including unknown ones, are accepted and reported.
//   - The footer CRC is verified on every Parse (aprender's own reader does
//     not check it; its writers always write it). This reads the whole file
//     once; hash/crc32 runs at memory speed, well under a second per GB
//     but 0.46 s of a 7B run, so OpenVerified skips it for a footer the
//     caller verified before on the same file version (engine keeps that
//     in its digest cache); Parse and Open always verify.
//   - Sections must not overlap and must come in the spec's order: the
//     metadata at or after byte 64, the index after the metadata, the data
//     after the index, every tensor inside [data_offset, footer). Every
//     writer of aprender lays files out this way; its reader checks less.
//   - Tensor names must be valid UTF-8, non-empty, at most 256 bytes and
//     unique (aprender reads names lossily and allows duplicates; a
//     duplicate name would make lookups ambiguous). Tensors may share
//     bytes: views are read-only, so aliasing is harmless.
//   - Sizes must match the dtype and dims exactly. Q4_K/Q6_K rows are whole
//     super-blocks: a tensor of R rows of C values (C = innermost dim) has
//     R*ceil(C/256) blocks, which is what aprender's row-aligned quantizer
//     writes and equals ggml's size when 256 divides C. AprQ4 is
//     ceil(n/32) blocks of 18 bytes; AprQ8 is a 4-byte scale plus n bytes
//     (0 bytes for an empty tensor), as aprender's writer produces them.
//   - Legacy dtype ids 8 and 9 read as AprQ4 and AprQ8 (TensorInfo.Code
//     keeps the stored id); the writer always writes 128 and 129.
//   - Metadata must be one JSON object without duplicate keys. Its known
//     fields are type-checked as aprender's serde structs check them
//     (model_type a string, counts non-negative integers, rope_theta a
//     number, ...), so a file this package accepts is one aprender's
//     reader accepts. Numbers are decoded as json.Number so that 64-bit
//     integers keep every digit.
//   - Aliases (hidden_dim for hidden_size, num_hidden_layers, ...) are read
//     by Metadata.Config; a file that spells one value two ways with
//     different values is refused there. The writer refuses metadata that
//     holds both a canonical key and any alias of it, because realizar's
//     loader then fails with serde's "duplicate field" and silently drops
//     all metadata.
//
// # Conversion (FromGGUF)
//
// Q4_K, Q6_K, F16 and F32 tensors are copied byte for byte. If any tensor
// has another type (Q8_0, Q4_0, Q5_K, BF16, Q2_K, ...), every tensor of the
// model is dequantized to F32, the fallback aprender's importer takes
// (specs/apr-v2.md). The values are ggml's to_float (quant.DequantizeRow).
// aprender's current raw importer refuses BF16, Q2_K and Q3_K outright
// instead of falling back; this package follows the spec and falls back
// for every type it can dequantize.
//
// Metadata is written as the importer's raw (quantization-preserving) path
// writes it, for both the copied and the F32 model: the known fields from
// the GGUF hyperparameters (null where absent: head_dim and the MoE fields
// always), model_type and name set to the architecture, total_size 0, and
// the custom keys tensor_shapes, model.* (the hyperparameters again),
// tokenizer.* and tied_embeddings. aprender's F32 path writes a smaller
// set (no model.*, the tokenizer model under tokenizer.model_type); one
// layout for both keeps every converted file loadable with its tokenizer.
// Tensors of more than two dims (none in llama-family models) have all
// dims reversed, which keeps APR's outermost-first row-major reading. The
// tokenizer keys are the importer's (vocabulary, merges, token types,
// scores, model, pre_type, BOS/EOS/PAD ids, add_bos_token, chat template);
// like the importer, the GGUF's unknown_token_id, add_eos_token and
// add_space_prefix are not carried, so a reader falls back to llama.cpp's
// defaults for them. A score that is NaN or infinite (JSON has no such
// number) fails the conversion instead of being dropped, which would shift
// every later score to the wrong token.
package apr
