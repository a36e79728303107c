//go:build amd64 && !purego

package quant

// quantQ8_0Arch quantizes the leading blocks of src into dst with the AVX2
// kernel (quantQ8_0Asm) up to the first block holding an infinity or a
// NaN, and returns how many blocks it did (0 without AVX2: simdEnabled
// off). The rest is quantQ8_0x86's Go loop, whose bits the kernel has.
func quantQ8_0Arch(dst []byte, src []float32) int {
	nb := len(src) / 32
	if !simdEnabled || nb == 0 {
		return 0
	}
	_ = dst[34*nb-1]
	return quantQ8_0Asm(&dst[0], &src[0], nb)
}

//go:noescape
func quantQ8_0Asm(dst *byte, src *float32, nb int) int

// quantQ8_KArch is quantQ8_0Arch for Q8_K (quantQ8_KAsm): it stops at the
// first block that is all zeros, not finite, or too small for its scale.
func quantQ8_KArch(dst []byte, src []float32) int {
	nb := len(src) / QK_K
	if !simdEnabled || nb == 0 {
		return 0
	}
	_ = dst[292*nb-1]
	return quantQ8_KAsm(&dst[0], &src[0], nb)
}

//go:noescape
func quantQ8_KAsm(dst *byte, src *float32, nb int) int
