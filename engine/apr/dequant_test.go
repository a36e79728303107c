package apr_test

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/quant"
)

// TestDequantizeAprQ8: one f32 scale for the whole tensor, then int8
// values (specs/apr-v2.md; aprender's add_q8_tensor / get_tensor_as_f32),
// worked by hand.
func TestDequantizeAprQ8(t *testing.T) {
	src := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.5))
	src = append(src, 2, 0xfc, 127, 0x81, 0)
	got := make([]float32, 5)
	if err := apr.DequantizeAprQ8(got, src); err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, -2, 63.5, -63.5, 0}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if err := apr.DequantizeAprQ8(nil, nil); err != nil {
		t.Errorf("empty tensor: %v", err)
	}
	if err := apr.DequantizeAprQ8(got, src[:8]); err == nil {
		t.Error("short input accepted")
	}
}

// TestDequantizeAprQ4: per block of 32, an f16 scale and nibbles stored as
// q+8, element 2k in the low nibble (specs/apr-v2.md), worked by hand; the
// second block is partial (40 values); a subnormal scale decodes as 0, as
// aprender's reader clamps it (GH-186).
func TestDequantizeAprQ4(t *testing.T) {
	block := func(scale uint16, nibbles ...byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, scale)
		packed := make([]byte, 16)
		for i, n := range nibbles {
			packed[i/2] |= n << (4 * (i % 2))
		}
		return append(b, packed...)
	}
	two := quant.FP32ToFP16(2)
	src := append(block(two, 9, 0, 15, 8), block(two, 7, 10)...)
	got := make([]float32, 40)
	if err := apr.DequantizeAprQ4(got, src); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 40)
	for i := range want {
		want[i] = -16 // nibble 0: (0-8)*2
	}
	copy(want, []float32{2, -16, 14, 0})
	want[32], want[33] = -2, 4
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	sub := block(0x0001, 15, 0) // smallest subnormal f16
	got = got[:2]
	if err := apr.DequantizeAprQ4(got, sub); err != nil || got[0] != 0 || got[1] != 0 {
		t.Errorf("subnormal scale: %v, %v; want zeros", got, err)
	}
	if err := apr.DequantizeAprQ4(make([]float32, 33), src[:18]); err == nil {
		t.Error("33 values from one block accepted")
	}
}

// TestToFloat32: the plain types decode to their values; K-quants decode
// as ggml's to_float (quant.DequantizeRow) row by row.
func TestToFloat32(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		d    apr.DType
		src  []byte
		want []float32
	}{
		{apr.F64, le.AppendUint64(le.AppendUint64(nil, math.Float64bits(1.5)), math.Float64bits(-2)), []float32{1.5, -2}},
		{apr.I32, le.AppendUint32(le.AppendUint32(nil, 7), uint32(0xfffffffe)), []float32{7, -2}},
		{apr.I64, le.AppendUint64(nil, uint64(math.MaxUint64)), []float32{-1}},
		{apr.I8, []byte{0xff, 3}, []float32{-1, 3}},
		{apr.U8, []byte{0xff, 3}, []float32{255, 3}},
		{apr.BF16, le.AppendUint16(nil, 0x3fc0), []float32{1.5}},
		{apr.F16, le.AppendUint16(nil, 0x3e00), []float32{1.5}},
	}
	for _, c := range cases {
		got := make([]float32, len(c.want))
		if err := apr.ToFloat32(c.d, got, c.src, len(got)); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.d, got, err, c.want)
		}
	}
	// Two Q6_K rows of 256, as the fixture's Q6_K tensors store them.
	src := make([]byte, 2*210)
	for i := range src {
		src[i] = byte(i * 13)
	}
	got := make([]float32, 512)
	if err := apr.ToFloat32(apr.Q6_K, got, src, 256); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 512)
	quant.DequantizeRow(quant.Q6_K, want[:256], src[:210])
	quant.DequantizeRow(quant.Q6_K, want[256:], src[210:])
	if !slices.Equal(got, want) {
		t.Error("Q6_K rows differ from quant.DequantizeRow")
	}
}

// TestByteSize: the sizes of specs/apr-v2.md's dtype table.
func TestByteSize(t *testing.T) {
	cases := []struct {
		d    apr.DType
		dims []uint64
		want uint64
	}{
		{apr.F32, []uint64{3, 5}, 60},
		{apr.F16, []uint64{7}, 14},
		{apr.BF16, []uint64{7}, 14},
		{apr.F64, []uint64{2}, 16},
		{apr.I64, []uint64{2}, 16},
		{apr.I32, []uint64{2}, 8},
		{apr.I8, []uint64{5}, 5},
		{apr.U8, []uint64{5}, 5},
		{apr.Q4_K, []uint64{3, 512}, 3 * 2 * 144},
		{apr.Q6_K, []uint64{3, 512}, 3 * 2 * 210},
		{apr.Q4_K, []uint64{2, 300}, 2 * 2 * 144}, // rows padded to whole super-blocks
		{apr.AprQ4, []uint64{64}, 36},
		{apr.AprQ4, []uint64{65}, 54},
		{apr.AprQ8, []uint64{10}, 14},
		{apr.AprQ8, []uint64{0}, 0},
		{apr.F32, nil, 4}, // a scalar
	}
	for _, c := range cases {
		if got, err := c.d.ByteSize(c.dims); err != nil || got != c.want {
			t.Errorf("%s %v: %d, %v; want %d", c.d, c.dims, got, err, c.want)
		}
	}
	if _, err := apr.F32.ByteSize([]uint64{1 << 62, 4}); err == nil {
		t.Error("overflowing dims accepted")
	}
	if _, err := apr.DType(2).ByteSize([]uint64{1}); err == nil {
		t.Error("unknown dtype accepted")
	}
}
