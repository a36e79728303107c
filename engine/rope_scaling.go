package engine

import "math"

// ropeCacheScaled fills cos and sin (each nRot/2 long) for one position
// as ggml_rope_cache_init does with llama.cpp's RoPE scaling for the
// llama-family graphs: pair i's angle is pos * base^(-2i/nRot), divided by
// its frequency factor (rope_freqs.weight; nil: 1), multiplied by the
// linear frequency scale, and cos and sin are multiplied by the attention
// factor (ggml's mscale). With YaRN (RopeExtFactor 1) each pair's angle is
// mixed between the interpolated and the extrapolated one along ggml's
// ramp (rope_yarn). Unscaled, it is ropeCache bit for bit.
func ropeCacheScaled(cos, sin []float32, pos int, h *Hyper, factors []float32) {
	freqScale, mscale := h.RopeFreqScale, h.RopeAttnFactor
	if freqScale == 0 {
		freqScale = 1
	}
	if mscale == 0 {
		mscale = 1
	}
	if factors == nil && freqScale == 1 && mscale == 1 && h.RopeExtFactor == 0 {
		ropeCache(cos, sin, pos, h.NRot, h.RopeTheta)
		return
	}
	thetaScale := float32(math.Pow(float64(h.RopeTheta), float64(float32(-2)/float32(h.NRot))))
	theta := float32(pos)
	for i := range cos {
		ext := theta
		if factors != nil {
			ext = theta / factors[i]
		}
		t := freqScale * ext
		ms := mscale
		if h.RopeExtFactor != 0 {
			// rope_yarn: mix the interpolated and extrapolated angles
			// along the ramp, and correct the magnitude. The explicit
			// conversions keep each product rounded (no FMA fusion).
			mix := yarnRamp(h.RopeCorrDims, i) * h.RopeExtFactor
			t = float32(t*(1-mix)) + float32(ext*mix)
			ms = mscale * (1 + float32(0.1*logf(1/freqScale)))
		}
		cos[i] = float32(math.Cos(float64(t))) * ms
		sin[i] = float32(math.Sin(float64(t))) * ms
		theta *= thetaScale
	}
}

// yarnRamp is ggml's rope_yarn_ramp for dimension pair i (i0/2): 1 below
// the first correction dimension, 0 past the last, linear between.
func yarnRamp(corr [2]float32, i int) float32 {
	y := (float32(i) - corr[0]) / max(0.001, corr[1]-corr[0])
	return 1 - min(1, max(0, y))
}

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
