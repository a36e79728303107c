package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// DequantizeRow against ggml's to_float (type traits, or the exported
// dequantize_row_* where the table has none) on random blocks of every
// type: the float32 bits must be identical.
func TestDequantizeRowOracle(t *testing.T) {
	o := oracle(t)
	for _, ty := range decodableTypes {
		t.Run(ty.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ty), 7))
			checked := 0
			for _, blocks := range []int{1, 2, 7, 40} {
				n := blocks * ty.BlockSize()
				if ty.BlockSize() == 1 {
					n = blocks * 256
				}
				src := randomBlocks(r, ty, n)
				want, err := o.Dequantize(uint32(ty), src, n)
				if err != nil {
					t.Skipf("no ggml decoder to compare with: %v", err)
				}
				got := make([]float32, n)
				if err := DequantizeRow(ty, got, src); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%d blocks: element %d = %g (%#08x), ggml %g (%#08x)", blocks, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
				checked += n
			}
			t.Logf("%d elements bit-identical to libggml-base (%s)", checked, o.Variant)
		})
	}
}

// Every binary16 bit pattern decodes as ggml's F16 to_float does.
func TestDequantizeF16AllValues(t *testing.T) {
	o := oracle(t)
	src := make([]byte, 2<<16)
	for h := 0; h < 1<<16; h++ {
		src[2*h], src[2*h+1] = byte(h), byte(h>>8)
	}
	for _, ty := range []Type{F16, BF16} {
		want, err := o.Dequantize(uint32(ty), src, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 1<<16)
		if err := DequantizeRow(ty, got, src); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s %#04x: %#08x, ggml %#08x", ty, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
}

// Bad calls return errors of the right category and never panic.
func TestDequantizeRowErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Type
		n    int
		src  int
		want error
	}{
		{"short src", Q4_K, 256, 143, ErrLength},
		{"long src", Q4_K, 256, 145, ErrLength},
		{"partial block", Q8_0, 33, 36, ErrLength},
		{"unsupported", IQ2_XXS, 256, 66, ErrUnsupportedType},
		{"unknown", Type(4), 32, 18, ErrUnknownType},
		{"unknown big", Type(1000), 32, 18, ErrUnknownType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := DequantizeRow(tc.t, make([]float32, tc.n), make([]byte, tc.src))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if err := DequantizeRow(Q6_K, nil, nil); err != nil {
		t.Errorf("empty row: %v", err)
	}
}

// DequantizeRow allocates nothing.
func TestDequantizeRowNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, ty := range decodableTypes {
		src := randomBlocks(r, ty, 512)
		dst := make([]float32, 512)
		allocs := testing.AllocsPerRun(10, func() {
			if err := DequantizeRow(ty, dst, src); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call", ty, allocs)
		}
	}
}
