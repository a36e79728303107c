package quant

// DotMatrixKernel computes, for every weight row i < rows and activation
// row t < tokens,
//
//	out[t*ostride + i] = the dot product of n elements of w[i*stride:] and x[t*xstride:]
//
// exactly, bit for bit, what DotFunc's kernel returns for that pair on
// its own: a matmul's whole block of outputs (prefill) in one call, so a
// kernel can decode each weight block once for all tokens. Like
// DotRowsKernel it panics (index out of range) if w, x or out is too
// short, and if a stride is negative.
type DotMatrixKernel func(n int, w []byte, stride, rows int, x []byte, xstride, tokens int, out []float32, ostride int)

// DotMatrixFunc returns the matrix dot kernel for weights of type weight.
// Where there is a SIMD matrix kernel (Q8_0, Q5_0, Q4_K and Q6_K with
// AVX2, and with AVX-512 VNNI where the CPU has it; see the package
// doc), it takes several weight rows against every token at once: each
// weight block is loaded and made unsigned once for all the tokens, and
// its fp16 scales converted once, where DotRowsFunc's kernel does that
// per token. Every
// output keeps the per-element operations of the one-row kernel (the
// integer block sums are exact in any order; each float is the same
// chain of multiplications and additions, block after block). Otherwise
// it calls DotRowsFunc's kernel, four rows at a time, token by token.
func DotMatrixFunc(weight Type) (DotMatrixKernel, error) {
	rowsKernel, err := DotRowsFunc(weight)
	if err != nil {
		return nil, err
	}
	if k := simdDotMatrix(weight, rowsKernel); k != nil {
		return k, nil
	}
	return func(n int, w []byte, stride, rows int, x []byte, xstride, tokens int, out []float32, ostride int) {
		checkMatrixStrides(stride, xstride, ostride)
		dotMatrixByRows(rowsKernel, n, w, stride, 0, rows, x, xstride, 0, tokens, out, ostride)
	}, nil
}

// dotMatrixByRows is the matrix kernel through a rows kernel for weight
// rows [r0, r1) and tokens [t0, t1): groups of four rows (a DotRowsKernel
// call each), every token against a group while it is in cache; one
// token takes all the rows in one call.
func dotMatrixByRows(k DotRowsKernel, n int, w []byte, stride, r0, r1 int, x []byte, xstride, t0, t1 int, out []float32, ostride int) {
	if r0 >= r1 || t0 >= t1 {
		return
	}
	// The rows kernel writes through out[o+r:o+r2], which a capacity
	// beyond len(out) would let pass.
	_ = out[(t1-1)*ostride+r1-1]
	if t1-t0 == 1 {
		// One token (a decode step): every row in one call, so that a
		// kernel that lays the activations out first does it once.
		o := t0 * ostride
		k(n, w[r0*stride:], stride, x[t0*xstride:], out[o+r0:o+r1])
		return
	}
	for r := r0; r < r1; r += 4 {
		r2 := min(r+4, r1)
		for t := t0; t < t1; t++ {
			o := t * ostride
			k(n, w[r*stride:], stride, x[t*xstride:], out[o+r:o+r2])
		}
	}
}

func checkMatrixStrides(stride, xstride, ostride int) {
	if stride < 0 || xstride < 0 || ostride < 0 {
		panic("quant: DotMatrixKernel: negative stride")
	}
}
