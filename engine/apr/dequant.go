package apr

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/falsify/falsify/engine/quant"
)

// AprQ4 block geometry: 32 values per block, an f16 scale and 16 bytes of
// nibbles.
const (
	aprQ4Block      = 32
	aprQ4BlockBytes = 18
)

// f16MinNormal is the smallest normal binary16 value, 2^-14. aprender's
// AprQ4 reader treats a block scale that is NaN, infinite or below it in
// magnitude as 0 (its GH-186 clamp); DequantizeAprQ4 does the same.
const f16MinNormal = 1.0 / (1 << 14)

// DequantizeAprQ4 decodes len(dst) values of an AprQ4 tensor from src,
// which must hold exactly ceil(len(dst)/32) blocks of 18 bytes. Block b
// holds values 32b..32b+31: an f16 scale s, then 16 bytes whose low nibble
// is value 2k and high nibble value 2k+1, stored as q+8; the value is
// (q)*s. The last block may be partial; its unused nibbles are ignored.
func DequantizeAprQ4(dst []float32, src []byte) error {
	want, _ := AprQ4.ByteSize([]uint64{uint64(len(dst))})
	if uint64(len(src)) != want {
		return fmt.Errorf("apr: dequantize AprQ4: %d values take %d bytes, got %d", len(dst), want, len(src))
	}
	for b := 0; b*aprQ4Block < len(dst); b++ {
		blk := src[b*aprQ4BlockBytes : (b+1)*aprQ4BlockBytes]
		s := quant.FP16ToFP32(binary.LittleEndian.Uint16(blk))
		if a := math.Abs(float64(s)); math.IsNaN(a) || math.IsInf(a, 0) || a < f16MinNormal {
			s = 0
		}
		out := dst[b*aprQ4Block : min((b+1)*aprQ4Block, len(dst))]
		for i := range out {
			nib := blk[2+i/2] >> (4 * (i & 1)) & 0x0F
			out[i] = float32(int8(nib)-8) * s
		}
	}
	return nil
}

// DequantizeAprQ8 decodes len(dst) values of an AprQ8 tensor from src: a
// little-endian f32 scale s for the whole tensor, then one int8 q per
// value; the value is q*s. An empty tensor has no bytes at all.
func DequantizeAprQ8(dst []float32, src []byte) error {
	want, _ := AprQ8.ByteSize([]uint64{uint64(len(dst))})
	if uint64(len(src)) != want {
		return fmt.Errorf("apr: dequantize AprQ8: %d values take %d bytes, got %d", len(dst), want, len(src))
	}
	if len(dst) == 0 {
		return nil
	}
	s := math.Float32frombits(binary.LittleEndian.Uint32(src))
	for i, q := range src[4:] {
		dst[i] = float32(int8(q)) * s
	}
	return nil
}

// ToFloat32 decodes a whole tensor of dtype d (len(dst) values, src its
// exact bytes) to float32: F32, F16, BF16, F64 (rounded), the integer
// types (converted), Q4_K and Q6_K (ggml's to_float, row by row over
// rows of cols values), AprQ4 and AprQ8. cols is the innermost dim, used
// only by the K-quants.
func ToFloat32(d DType, dst []float32, src []byte, cols int) error {
	if len(dst) == 0 && len(src) == 0 && d.Known() {
		return nil
	}
	switch d {
	case AprQ4:
		return DequantizeAprQ4(dst, src)
	case AprQ8:
		return DequantizeAprQ8(dst, src)
	case F32, F16, BF16:
		qt, _ := d.GGML()
		return quant.DequantizeRow(qt, dst, src)
	case Q4_K, Q6_K:
		return dequantizeRows(d, dst, src, cols)
	}
	es := d.elemSize()
	if es == 0 {
		return fmt.Errorf("apr: to float32: %w: %d", ErrUnknownType, uint8(d))
	}
	if uint64(len(src)) != uint64(len(dst))*es {
		return fmt.Errorf("apr: to float32: %d %s values take %d bytes, got %d", len(dst), d, uint64(len(dst))*es, len(src))
	}
	le := binary.LittleEndian
	for i := range dst {
		switch d {
		case F64:
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		case I64:
			dst[i] = float32(int64(le.Uint64(src[8*i:])))
		case I32:
			dst[i] = float32(int32(le.Uint32(src[4*i:])))
		case I8:
			dst[i] = float32(int8(src[i]))
		case U8:
			dst[i] = float32(src[i])
		}
	}
	return nil
}

// dequantizeRows decodes a K-quant tensor stored as rows of whole
// super-blocks (the row padded up to a multiple of 256 values).
func dequantizeRows(d DType, dst []float32, src []byte, cols int) error {
	if cols <= 0 || len(dst)%cols != 0 {
		return fmt.Errorf("apr: dequantize %s: %d values are not rows of %d", d, len(dst), cols)
	}
	rows := len(dst) / cols
	qt, _ := d.GGML()
	padded := (cols + quant.QK_K - 1) / quant.QK_K * quant.QK_K
	rb := padded / quant.QK_K * qt.TypeSize()
	if len(src) != rows*rb {
		return fmt.Errorf("apr: dequantize %s: %d rows of %d take %d bytes, got %d", d, rows, cols, rows*rb, len(src))
	}
	var buf []float32
	if padded != cols {
		buf = make([]float32, padded)
	}
	for r := range rows {
		row, out := src[r*rb:(r+1)*rb], dst[r*cols:(r+1)*cols]
		if buf == nil {
			if err := quant.DequantizeRow(qt, out, row); err != nil {
				return err
			}
			continue
		}
		if err := quant.DequantizeRow(qt, buf, row); err != nil {
			return err
		}
		copy(out, buf)
	}
	return nil
}
