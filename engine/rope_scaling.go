package engine

import "math"

// yarnCorrDims is ggml_rope_yarn_corr_dims: the dimension pairs where the
// rotation's wavelength crosses nCtxOrig/betaFast and nCtxOrig/betaSlow.
func yarnCorrDims(nDims, nCtxOrig int, base, betaFast, betaSlow float32) [2]float32 {
	corrDim := func(beta float32) float32 {
		return float32(float32(nDims)*logf(float32(nCtxOrig)/float32(float32(beta*2)*float32(math.Pi)))) / float32(2*logf(base))
	}
	start := float32(math.Floor(float64(corrDim(betaFast))))
	end := float32(math.Ceil(float64(corrDim(betaSlow))))
	return [2]float32{max(0, start), min(float32(nDims-1), end)}
}

// yarnAttnFactor is llama.cpp's yarn_attn_factor for a YaRN context
// (llama_context constructor; rope.scaling.yarn_log_multiplier is not read
// for these architectures): get_mscale(factor, 1), cancelled by the same
// magnitude correction rope_yarn applies, times attn_factor.
func yarnAttnFactor(freqScale, attnFactor float32) float32 {
	factor := 1 / freqScale
	a := float32(1)
	if factor > 1 {
		a = float32(0.1*logf(factor)) + 1
	}
	a *= 1 / (1 + float32(0.1*logf(factor)))
	return a * attnFactor
}

// logf is C's logf: the float64 logarithm rounded to float32.
func logf(x float32) float32 { return float32(math.Log(float64(x))) }
