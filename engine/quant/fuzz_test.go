package quant

import (
	"errors"
	"testing"
)

// FuzzRowFunctions feeds arbitrary types, lengths and bytes to the checked
// entry points: they must return an error or a result, never panic.
func FuzzRowFunctions(f *testing.F) {
	f.Add(uint32(Q4_K), uint16(256), make([]byte, 144))
	f.Add(uint32(Q8_0), uint16(32), make([]byte, 34))
	f.Add(uint32(Q3_K), uint16(300), make([]byte, 110))
	f.Add(uint32(IQ2_XXS), uint16(256), make([]byte, 66))
	f.Add(uint32(99), uint16(1), []byte{1})
	f.Fuzz(func(t *testing.T, typ uint32, n uint16, data []byte) {
		ty := Type(typ)
		dst := make([]float32, n)
		err := DequantizeRow(ty, dst, data)
		if err == nil && !ty.Decodable() {
			t.Fatalf("DequantizeRow accepted %s", ty)
		}
		if err != nil && !errors.Is(err, ErrLength) && !errors.Is(err, ErrUnsupportedType) && !errors.Is(err, ErrUnknownType) {
			t.Fatalf("DequantizeRow error outside the sentinels: %v", err)
		}
		x := make([]float32, n)
		for i := range x {
			if i < len(data) {
				x[i] = float32(int8(data[i])) / 7
			}
		}
		_ = QuantizeRow(ty, data, x)
		_ = QuantizeRowRef(ty, data, x)
		_ = QuantizeWeights(ty, data, x)
		_, _ = VecDot(ty, int(n), data, data)
	})
}
