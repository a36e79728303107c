package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// DequantizeFunc's function gives DequantizeRow's bits for every decodable
// type (SIMD kernels on and off), rejects what DequantizeRow rejects at
// the type, and panics on a wrong length.
func TestDequantizeFuncMatchesDequantizeRow(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, simd := range []bool{true, false} {
		withSIMD(simd, func() {
			for _, ty := range decodableTypes {
				f, err := DequantizeFunc(ty)
				if err != nil {
					t.Fatalf("%s: %v", ty, err)
				}
				n := 3 * max(ty.BlockSize(), 8)
				src := randomBlocks(r, ty, n)
				want, got := make([]float32, n), make([]float32, n)
				if err := DequantizeRow(ty, want, src); err != nil {
					t.Fatal(err)
				}
				f(got, src)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s simd=%v element %d: %#08x, DequantizeRow %#08x", ty, simd, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("%s: no panic on a short src", ty)
						}
					}()
					f(got, src[:len(src)-1])
				}()
			}
		})
	}
	if _, err := DequantizeFunc(IQ2_XXS); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("IQ2_XXS: %v, want ErrUnsupportedType", err)
	}
	if _, err := DequantizeFunc(Type(99)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("type 99: %v, want ErrUnknownType", err)
	}
}

func TestDequantizeFuncNoAlloc(t *testing.T) {
	f, err := DequantizeFunc(Q4_K)
	if err != nil {
		t.Fatal(err)
	}
	src := randomBlocks(rand.New(rand.NewPCG(1, 1)), Q4_K, 512)
	dst := make([]float32, 512)
	if a := testing.AllocsPerRun(10, func() { f(dst, src) }); a != 0 {
		t.Errorf("%v allocations per call", a)
	}
}
