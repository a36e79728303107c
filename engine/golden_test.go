package engine

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

var goldenCache sync.Map // path -> *trace.Golden

// loadGolden reads llama.cpp's own forward pass (fixtures golden/forward):
// every slot of every layer for every position, plus kqv_out (attention
// before the output projection) so each op can be fed its golden input.
func loadGolden(t testing.TB, path string) *trace.Golden {
	t.Helper()
	if g, ok := goldenCache.Load(path); ok {
		return g.(*trace.Golden)
	}
	g, err := trace.ReadGolden(path)
	if err != nil {
		t.Fatal(err)
	}
	goldenCache.Store(path, g)
	return g
}

// goldenCase is one fixture model with one of its goldens.
type goldenCase struct {
	name   string // e.g. "q4_k_m" or "q4_k_m-long"
	model  string
	golden string
}

// goldenCases lists every (model, golden) pair available: the core in
// testdata, all of them when ../shared/fixtures is beside the repository.
func goldenCases(t testing.TB) []goldenCase {
	var out []goldenCase
	for _, g := range fixture.Glob("golden/forward/qwen2-tiny-*.json.gz") {
		base := strings.TrimSuffix(filepath.Base(g), ".json.gz")
		modelName := strings.TrimSuffix(base, "-long")
		model, ok := fixture.Path("models/" + modelName + ".gguf")
		if !ok {
			continue
		}
		out = append(out, goldenCase{name: strings.TrimPrefix(base, "qwen2-tiny-"), model: model, golden: g})
	}
	if len(out) == 0 {
		t.Fatal("no golden forward fixtures found")
	}
	return out
}

func flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// setRows copies golden rows (one per position) into a session tensor.
func setRows(s *Session, dst backend.Tensor, rows [][]float32) {
	w := len(rows[0])
	for t, r := range rows {
		s.ctx.Write(dst, t*w, r)
	}
}

// opCheck is one teacher-forced comparison.
type opCheck struct {
	layer int
	op    string
	nmse  float64
	diff  string
}

// teacherForce feeds every op of every layer its golden input and compares
// the op's output with the golden output.
func teacherForce(t *testing.T, m *Model, g *trace.Golden, mode trace.MatmulMode) []opCheck {
	n := len(g.Tokens)
	h := m.Hyper
	s, err := NewSession(m, Options{Matmul: mode, Threads: 2}, n, n)
	if err != nil {
		t.Fatal(err)
	}
	var checks []opCheck
	check := func(layer int, op string, tensor backend.Tensor, want [][]float32) {
		w := flatten(want)
		got, err := s.ctx.Read(tensor, len(w))
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, opCheck{layer, op, numcmp.NMSE(got, w), numcmp.Diff(op, got, w)})
	}

	s.ctx.Embed(s.x, s.w[m.TokEmbd], g.Tokens)
	check(-1, "embed", s.x, g.Embed)
	for l := range h.NLayer {
		gl := g.Layers[l]
		input := g.Embed
		if l > 0 {
			input = g.Layers[l-1]["output"]
		}
		setRows(s, s.x, input)
		s.attnNorm(l, n)
		check(l, "attn_norm", s.xb, gl["attn_norm"])

		setRows(s, s.xb, gl["attn_norm"])
		s.projectQKV(l, n)
		check(l, "qkv", s.qkv, gl["qkv"])

		s.pos = 0
		setRows(s, s.qkv, gl["qkv"])
		s.attention(l, n)
		check(l, "kqv_out", s.kqv, gl["kqv_out"])

		setRows(s, s.kqv, gl["kqv_out"])
		s.projectAttnOut(l, n)
		check(l, "attn_out", s.attnOut, gl["attn_out"])

		setRows(s, s.x, input)
		setRows(s, s.attnOut, gl["attn_out"])
		s.ffnNorm(l, n)
		check(l, "ffn_norm", s.xb, gl["ffn_norm"])

		setRows(s, s.xb, gl["ffn_norm"])
		s.projectGateUp(l, n)
		check(l, "ffn_gate", s.gate, gl["ffn_gate"])
		check(l, "ffn_up", s.up, gl["ffn_up"])

		setRows(s, s.gate, gl["ffn_gate"])
		setRows(s, s.up, gl["ffn_up"])
		s.siluGate(n)
		check(l, "ffn_silu_gate", s.act, gl["ffn_silu_gate"])
		s.swiglu(n)
		check(l, "ffn_swiglu_inner", s.act, gl["ffn_swiglu_inner"])

		setRows(s, s.act, gl["ffn_swiglu_inner"])
		s.projectDown(l, n)
		check(l, "ffn_out", s.ffnOut, gl["ffn_out"])

		// output = (input + attn_out) + ffn_out, from golden operands.
		setRows(s, s.x, input)
		setRows(s, s.attnOut, gl["attn_out"])
		setRows(s, s.ffnOut, gl["ffn_out"])
		s.addResidual(s.attnOut, n)
		s.addResidual(s.ffnOut, n)
		check(l, "output", s.x, gl["output"])

	}
	setRows(s, s.x, g.Layers[h.NLayer-1]["output"])
	s.ctx.RMSNorm(s.xb, s.x, s.w[m.OutputNorm], n, h.RMSEps)
	check(h.NLayer, "final_norm", s.xb, g.FinalNorm)
	setRows(s, s.xb, g.FinalNorm)
	s.ctx.MatMul(s.logits, h.NVocab, 0, s.xb, n, s.w[m.Output])
	check(h.NLayer, "logits", s.logits, g.Logits)
	return checks
}

// TestTeacherForcedOpsMatchLlamaCpp is issue 3's kernel proof: every op,
// fed llama.cpp's own input, reproduces llama.cpp's output (fixtures
// golden/forward, llama.cpp v0.4.0 CPU) within NMSE 1e-9 in quantized
// mode, for every model, layer and position.
func TestTeacherForcedOpsMatchLlamaCpp(t *testing.T) {
	const bound = 1e-9
	for _, gc := range goldenCases(t) {
		t.Run(gc.name, func(t *testing.T) {
			m, err := Load(gc.model)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			g := loadGolden(t, gc.golden)
			worst := opCheck{nmse: -1}
			for _, c := range teacherForce(t, m, g, trace.MatmulQuantized) {
				// ffn_silu_gate was derived in float64 from ffn_gate by the
				// fixture tool (llama.cpp fuses it away), so it is held to
				// float32 rounding of that formula: the same bound.
				if !(c.nmse <= bound) {
					t.Errorf("layer %d %s: NMSE %.3g > %g\n  %s", c.layer, c.op, c.nmse, bound, c.diff)
				}
				if c.nmse > worst.nmse {
					worst = c
				}
			}
			t.Logf("%s: worst teacher-forced NMSE %.3g at layer %d %s", gc.name, worst.nmse, worst.layer, worst.op)
		})
	}
}

// endToEnd compares a full traced run with the golden, slot by slot in
// forward order over all positions.
type e2eResult struct {
	worst, worstAt string
	worstNMSE      float64
	firstAbove     string // first (layer, slot) above 1e-9
	argmaxAgree    int
	positions      int
	table          []string
}

func endToEnd(t *testing.T, m *Model, g *trace.Golden, mode trace.MatmulMode) e2eResult {
	tr, err := Run(m, g.Tokens, Options{Matmul: mode, Threads: 2, AllPositions: true, AllLogits: true})
	if err != nil {
		t.Fatal(err)
	}
	res := e2eResult{worstNMSE: -1, positions: len(g.Tokens)}
	cmp := func(label string, st *trace.SlotTrace, want [][]float32) {
		var got []float32
		for _, p := range st.Positions {
			got = append(got, p...)
		}
		nm := numcmp.NMSE(got, flatten(want))
		if nm > res.worstNMSE || math.IsNaN(nm) {
			res.worstNMSE, res.worstAt = nm, label
		}
		if nm > 1e-9 && res.firstAbove == "" {
			res.firstAbove = fmt.Sprintf("%s (NMSE %.3g)", label, nm)
		}
		res.table = append(res.table, fmt.Sprintf("%-28s %.3g", label, nm))
	}
	cmp("embed", &tr.Embed, g.Embed)
	for l := range m.Hyper.NLayer {
		for s, name := range trace.LayerSlots() {
			cmp(fmt.Sprintf("layer %d %s", l, name), &tr.Layers[l].Slots[s], g.Rows(l, name))
		}
	}
	cmp("final_norm", &tr.FinalNorm, g.FinalNorm)
	cmp("logits", &tr.Logits, g.Logits)
	for p, want := range g.Logits {
		if numcmp.Argmax(tr.Logits.Positions[p]) == numcmp.Argmax(want) {
			res.argmaxAgree++
		}
	}
	return res
}

// TestEndToEndMatchesLlamaCpp runs each fixture model on the golden's
// prompt, each op fed the engine's own previous output. On the F32 model
// every slot is within NMSE 1e-10 of llama.cpp in both modes. On quantized
// models an activation now and then lands one int8 step from llama.cpp's
// (float32 sums in another order cross a rounding boundary) and the
// difference grows through the layers, so the test reports the worst NMSE
// and the first (layer, slot) above 1e-9, and requires the logits' argmax
// to agree at every position.
func TestEndToEndMatchesLlamaCpp(t *testing.T) {
	for _, gc := range goldenCases(t) {
		t.Run(gc.name, func(t *testing.T) {
			m, err := Load(gc.model)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			g := loadGolden(t, gc.golden)
			modes := []trace.MatmulMode{trace.MatmulQuantized}
			if strings.HasPrefix(gc.name, "f32") {
				modes = append(modes, trace.MatmulF32)
			}
			for _, mode := range modes {
				r := endToEnd(t, m, g, mode)
				t.Logf("%s %s: worst NMSE %.3g at %s; first above 1e-9: %s; argmax agrees at %d/%d positions",
					gc.name, mode, r.worstNMSE, r.worstAt, orNone(r.firstAbove), r.argmaxAgree, r.positions)
				if strings.HasPrefix(gc.name, "f32") && !(r.worstNMSE <= 1e-10) {
					t.Errorf("F32 model, %s mode: worst NMSE %.3g at %s, want <= 1e-10", mode, r.worstNMSE, r.worstAt)
				}
				if r.argmaxAgree != r.positions {
					t.Errorf("%s mode: logits argmax agrees with llama.cpp at %d of %d positions", mode, r.argmaxAgree, r.positions)
				}
				if testing.Verbose() && os.Getenv("FALSIFY_GOLDEN_TABLE") != "" {
					t.Log("\n" + strings.Join(r.table, "\n"))
				}
			}
		})
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// TestF32ModeOnQuantizedModels reports how far the f32 matmul mode (weights
// dequantized, no activation quantization) lands from llama.cpp's quantized
// path: the activation-quantization drift contracts measure. The bound is
// loose on purpose (it catches a broken f32 path, NMSE near 1, not drift).
func TestF32ModeOnQuantizedModels(t *testing.T) {
	for _, gc := range goldenCases(t) {
		if strings.HasPrefix(gc.name, "f32") {
			continue
		}
		t.Run(gc.name, func(t *testing.T) {
			m, err := Load(gc.model)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			r := endToEnd(t, m, loadGolden(t, gc.golden), trace.MatmulF32)
			t.Logf("%s f32 mode vs llama.cpp: worst NMSE %.3g at %s; argmax agrees at %d/%d", gc.name, r.worstNMSE, r.worstAt, r.argmaxAgree, r.positions)
			if !(r.worstNMSE < 1e-2) {
				t.Errorf("f32 mode: worst NMSE %.3g at %s: the f32 path is broken, not drifting", r.worstNMSE, r.worstAt)
			}
		})
	}
}
