package cpu

import (
	"math"

	"github.com/falsify/falsify/engine/backend"
)

// ropeCacheScaled fills cos and sin (each nRot/2 long) for one position
// as ggml_rope_cache_init does with llama.cpp's RoPE scaling for the
// llama-family graphs: pair i's angle is pos * base^(-2i/nRot), divided by
// its frequency factor (rope_freqs.weight, Attn.RopeFreqs; nil: 1), multiplied by the
// linear frequency scale, and cos and sin are multiplied by the attention
// factor (ggml's mscale). With YaRN (RopeExtFactor 1) each pair's angle is
// mixed between the interpolated and the extrapolated one along ggml's
// ramp (rope_yarn). Unscaled, it is ropeCache bit for bit.
func ropeCacheScaled(cos, sin []float32, pos int, h *backend.Attn) {
	factors := h.RopeFreqs
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

// logf is C's logf: the float64 logarithm rounded to float32.
func logf(x float32) float32 { return float32(math.Log(float64(x))) }
