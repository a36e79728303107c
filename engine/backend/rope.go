package backend

import "math"

// RopeCache fills cos and sin (each a.NRot/2 long) with the rotation of
// every dimension pair at position pos, as ggml_rope_cache_init does with
// llama.cpp's RoPE scaling for the llama-family graphs: pair i's angle is
// pos * RopeTheta^(-2i/NRot) (theta multiplied by the base power in float32
// after each pair), divided by its frequency factor (a.RopeFreqs; nil: 1),
// multiplied by the linear frequency scale, and cos and sin (float64,
// rounded to float32) are multiplied by the attention factor (ggml's
// mscale). With YaRN (RopeExtFactor 1) each pair's angle is mixed between
// the interpolated and the extrapolated one along ggml's ramp (rope_yarn).
// Every backend computes its RoPE table here on the host, so the angles
// have the bits the goldens were checked on: a GPU's own sin and cos are
// accurate only to a driver-defined bound, far coarser than float32 for
// the thousands of radians of late positions.
func RopeCache(cos, sin []float32, pos int, a *Attn) {
	factors := a.RopeFreqs
	freqScale, mscale := a.RopeFreqScale, a.RopeAttnFactor
	if freqScale == 0 {
		freqScale = 1
	}
	if mscale == 0 {
		mscale = 1
	}
	thetaScale := float32(math.Pow(float64(a.RopeTheta), float64(float32(-2)/float32(a.NRot))))
	theta := float32(pos)
	if factors == nil && freqScale == 1 && mscale == 1 && a.RopeExtFactor == 0 {
		// Unscaled: ggml_rope_cache_init's plain loop.
		for i := range cos {
			cos[i] = float32(math.Cos(float64(theta)))
			sin[i] = float32(math.Sin(float64(theta)))
			theta *= thetaScale
		}
		return
	}
	for i := range cos {
		ext := theta
		if factors != nil {
			ext = theta / factors[i]
		}
		t := freqScale * ext
		ms := mscale
		if a.RopeExtFactor != 0 {
			// rope_yarn: mix the interpolated and extrapolated angles
			// along the ramp, and correct the magnitude. The explicit
			// conversions keep each product rounded (no FMA fusion).
			mix := yarnRamp(a.RopeCorrDims, i) * a.RopeExtFactor
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

// logf is C's logf: the float64 logarithm rounded to float32.
func logf(x float32) float32 { return float32(math.Log(float64(x))) }
