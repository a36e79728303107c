package main

import (
	"strings"
	"testing"

	"github.com/falsify/falsify/trace"
)

// TestDiffDescribesTraceOptions: a saved trace's header line names the
// run options its provenance records, so a decode-path trace (prefill),
// whose numbers match the batch path's bit for bit, is told apart from a
// batch one; a trace without options reads as before.
func TestDiffDescribesTraceOptions(t *testing.T) {
	prov := trace.Provenance{Model: "m.gguf", Matmul: trace.MatmulQuantized}
	plain := (&diffSide{path: "a.json", trace: &trace.Trace{Provenance: prov}}).describe()
	if plain != "a.json (saved trace of m.gguf, quantized matmul)" {
		t.Errorf("no options: %q", plain)
	}
	prov.Options = map[string]string{"prefill": "2", "kv_type": "f16"}
	got := (&diffSide{path: "b.json", trace: &trace.Trace{Provenance: prov}}).describe()
	if !strings.HasSuffix(got, "quantized matmul, kv_type f16, prefill 2)") {
		t.Errorf("with options: %q, want them named in key order", got)
	}
}
