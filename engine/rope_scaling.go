package engine

import "math"

// ropeCacheScaled fills cos and sin (each nRot/2 long) for one position
// as ggml_rope_cache_init does with llama.cpp's RoPE scaling for the
// llama-family graphs: pair i's angle is pos * base^(-2i/nRot), divided by
// its frequency factor (rope_freqs.weight; nil: 1), multiplied by the
// linear frequency scale, and cos and sin are multiplied by the attention
// factor (ggml's mscale). YaRN (ext_factor != 0) is refused at load, so
// rope_yarn reduces to this. Unscaled, it is ropeCache bit for bit.
func ropeCacheScaled(cos, sin []float32, pos int, h *Hyper, factors []float32) {
	freqScale, mscale := h.RopeFreqScale, h.RopeAttnFactor
	if factors == nil && (freqScale == 0 || freqScale == 1) && (mscale == 0 || mscale == 1) {
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
		cos[i] = float32(math.Cos(float64(t))) * mscale
		sin[i] = float32(math.Sin(float64(t))) * mscale
		theta *= thetaScale
	}
}
