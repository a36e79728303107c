package contracts_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/falsify/falsify/contracts"
)

// Load a contract, validate it, and read a gate's typed parameters.
func Example() {
	dir, _ := os.MkdirTemp("", "contract")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "layer3.yaml")
	os.WriteFile(path, []byte(`metadata:
  version: 1.0.0
  description: layer 3 swiglu std ratio
  references: [upstream-contract.md]
subjects:
  apr:  {model: "${APR:-}", from: gguf, matmul: f32}
  gguf: {model: "${GGUF:-builtin:qwen2-tiny-q4_k_m.gguf}"}
input: {prompt: "What is 2+2?"}
falsification_tests:
- id: L3
  rule: layer 3 in band
  prediction: ratio in [0.5, 2.0]
  gate: {kind: ratio_band, slot: ffn_swiglu_inner, stat: std, sample: last_token,
         layers: [3], numerator: apr, denominator: gguf, band: [2.0, 0.5]}
`), 0o644)

	c, err := contracts.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range contracts.Validate(c) {
		fmt.Printf("line %d: %s\n", f.Line, f.Rule)
	}
	rb := c.FalsificationTests[0].Gate.Params.(*contracts.RatioBand)
	fmt.Println(rb.Slot, rb.Stat, rb.Layers, rb.Numerator+"/"+rb.Denominator, rb.Band)
	// Output:
	// line 14: inverted-band
	// ffn_swiglu_inner std [3] apr/gguf [2, 0.5]
}
