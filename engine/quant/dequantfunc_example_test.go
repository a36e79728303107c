package quant_test

import (
	"fmt"

	"github.com/falsify/falsify/engine/quant"
)

// Decoding two Q8_0 rows (one block each: an fp16 scale, then 32 int8
// quants) with the function DequantizeFunc returns.
func ExampleDequantizeFunc() {
	dequant, err := quant.DequantizeFunc(quant.Q8_0)
	if err != nil {
		panic(err)
	}
	rows := make([]byte, 2*34)
	rows[0], rows[1] = 0x00, 0x38   // d = 0.5
	rows[34], rows[35] = 0x00, 0xc0 // d = -2
	for i := range 32 {
		rows[2+i], rows[36+i] = byte(i), byte(-i)
	}
	out := make([]float32, 64)
	for r := range 2 {
		dequant(out[32*r:32*(r+1)], rows[34*r:34*(r+1)])
	}
	fmt.Println(out[:4], out[32:36])
	// Output: [0 0.5 1 1.5] [-0 2 4 6]
}
