package quant

// DotRowsKernel computes out[i] = the dot product of n elements of the
// weight row starting at w[i*stride] and the activation row x, for every
// i < len(out): exactly, bit for bit, what DotFunc's kernel returns for
// each row on its own. It does no checking beyond that of DotKernel: it
// panics (index out of range) if w or x is too short, and if stride is
// negative.
type DotRowsKernel func(n int, w []byte, stride int, x []byte, out []float32)

// DotRowsFunc returns the several-rows dot kernel for weights of type
// weight: a matmul calls it with a few consecutive weight rows (stride
// is the bytes from one row to the next) and one activation row. Where a
// SIMD kernel takes rows four at a time (Q8_0 with AVX2), the rows' float
// additions, each a chain of dependent operations in a fixed order,
// overlap; otherwise it calls DotFunc's kernel row by row.
func DotRowsFunc(weight Type) (DotRowsKernel, error) {
	f, err := DotFunc(weight)
	if err != nil {
		return nil, err
	}
	byRow := func(n int, w []byte, stride int, x []byte, out []float32) {
		if stride < 0 {
			panic("quant: DotRowsKernel: negative stride")
		}
		for i := range out {
			out[i] = f(n, w[i*stride:], x)
		}
	}
	if k := simdDotRows(weight, byRow); k != nil {
		return k, nil
	}
	return byRow, nil
}
