package cpu

import (
	"flag"
	"math"
	"testing"
)

var expExhaustive = flag.Bool("exhaustive", false, "TestExpfsSilusMatchScalar over all 2^32 float32 values (minutes) instead of every 251st")

// TestExpfsSilusMatchScalar: the vector expf and silu (exp_amd64.s, a
// four-lane copy of math.Exp) give the scalar functions' bits, checked on
// float32 bit patterns spread over the whole range (every 251st pattern;
// -exhaustive: all 2^32) plus the boundaries of the kernel's range, the
// infinities, NaNs, zeros and subnormals. Groups of four mix in-range
// and out-of-range arguments, so the hand-back to the scalar code is
// covered too.
func TestExpfsSilusMatchScalar(t *testing.T) {
	step := uint64(251)
	if *expExhaustive {
		step = 1
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 700, -700, math.Nextafter32(700, 1000), math.Nextafter32(-700, -1000),
		88.72, 88.73, -87.3, -103.9, -104, 104, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(1), math.Float32frombits(0x807fffff), math.MaxFloat32, -math.MaxFloat32}
	const batch = 1 << 16
	in := make([]float32, 0, batch+len(special))
	ex := make([]float32, batch+len(special))
	si := make([]float32, batch+len(special))
	checked := 0
	check := func() {
		copy(ex, in)
		expfs(ex[:len(in)])
		silus(si, in)
		for i, x := range in {
			we, ws := expf(x), silu(x)
			if math.Float32bits(ex[i]) != math.Float32bits(we) && !(we != we && ex[i] != ex[i]) {
				t.Fatalf("expf(%g) (%#08x): vector %g (%#08x), scalar %g (%#08x)", x, math.Float32bits(x), ex[i], math.Float32bits(ex[i]), we, math.Float32bits(we))
			}
			if math.Float32bits(si[i]) != math.Float32bits(ws) && !(ws != ws && si[i] != si[i]) {
				t.Fatalf("silu(%g) (%#08x): vector %g (%#08x), scalar %g (%#08x)", x, math.Float32bits(x), si[i], math.Float32bits(si[i]), ws, math.Float32bits(ws))
			}
		}
		checked += len(in)
		in = in[:0]
	}
	in = append(in, special...)
	for b := uint64(0); b < 1<<32; b += step {
		in = append(in, math.Float32frombits(uint32(b)))
		if len(in) == cap(in) {
			check()
		}
	}
	check()
	t.Logf("%d arguments bit-identical (vector kernel %v)", checked, useExpAVX2)
}
