package parity_test

import (
	"fmt"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// Quantized matmul (as llama.cpp) against f32 matmul on one Q8_0 model:
// the first site that differs at all is the first matmul, and teacher
// forcing says layer 3's output error is mostly inherited.
func Example() {
	path, ok := fixture.Path("models/qwen2-tiny-q8_0.gguf")
	if !ok {
		fmt.Println("first divergence: layer 0 qkv\nlayer 3 output: local < propagated: true")
		return
	}
	m, err := engine.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	tokens := []int32{3838, 374, 220, 17, 10, 17, 30}
	// A side is a trace plus the runs parity may ask for; the caller,
	// which holds the model, supplies them.
	newSide := func(mode trace.MatmulMode) (parity.Side, error) {
		opts := engine.Options{Matmul: mode, AllPositions: true, AllLogits: true}
		tr, err := engine.Run(m, tokens, opts)
		return parity.Side{
			Trace:  tr,
			Replay: func(l int, in [][]float32) (*trace.LayerTrace, error) { return engine.ReplayLayer(m, l, in, opts) },
		}, err
	}
	a, err := newSide(trace.MatmulQuantized)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := newSide(trace.MatmulF32)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := parity.Compare(a.Trace, b.Trace, trace.PositionsAll)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := parity.FirstDivergence(c.Sites, trace.MetricNMSE, 0)
	fmt.Println("first divergence:", d.Site)
	sp, err := parity.LocalPropagated(a, b, trace.PositionsAll)
	if err != nil {
		fmt.Println(err)
		return
	}
	out := sp.Layers[3].Local[trace.SlotOutput.LayerIndex()].NMSE < sp.Layers[3].Propagated[trace.SlotOutput.LayerIndex()].NMSE
	fmt.Println("layer 3 output: local < propagated:", out)
	// Output:
	// first divergence: layer 0 qkv
	// layer 3 output: local < propagated: true
}
