package vulkan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

// The engine-level tests run whole traced forward passes of the fixture
// models (testdata, and every one of ../shared/fixtures when present) on
// the "vulkan" backend and on "cpu" and compare them slot by slot. They
// live in an external test package because engine imports this one.

// prompt is "What is 2+2?" in the fixtures' tokenizer.
var prompt = []int32{3838, 374, 220, 17, 10, 17, 30}

// fixtureModels lists the fixture models, by short name (f32, q4_k_m...).
func fixtureModels(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, p := range fixture.Glob("models/qwen2-tiny-*.gguf") {
		out[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "qwen2-tiny-"), ".gguf")] = p
	}
	if len(out) == 0 {
		t.Fatal("no fixture models found")
	}
	return out
}

// loadModel loads path; at cleanup the model (and the backends opened on
// it) is closed, and a failure there, such as a validation-layer message
// reported by the Vulkan backend's Close, fails the test.
func loadModel(t *testing.T, path string) *engine.Model {
	t.Helper()
	m, err := engine.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close %s: %v", filepath.Base(path), err)
		}
	})
	return m
}

// runOrSkip is engine.Run, skipping the test when Vulkan is unavailable.
func runOrSkip(t *testing.T, m *engine.Model, opts engine.Options) *trace.Trace {
	t.Helper()
	tr, err := engine.Run(m, prompt, opts)
	if errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", opts.Backend, opts.Matmul, err)
	}
	return tr
}

// traceBits is the trace's numbers as JSON (every float32 bit), without
// timing fields.
func traceBits(t *testing.T, tr *trace.Trace) []byte {
	c := *tr
	c.Provenance.Seconds, c.Provenance.StartedAt, c.Provenance.Threads = 0, "", 0
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flat(st *trace.SlotTrace) []float32 {
	var out []float32
	for _, p := range st.Positions {
		out = append(out, p...)
	}
	return out
}

// slotNames are the compared slots, in forward order.
func slotNames() []trace.Slot {
	out := []trace.Slot{trace.SlotEmbed}
	out = append(out, trace.LayerSlots()...)
	return append(out, trace.SlotFinalNorm, trace.SlotLogits)
}

// parity is a GPU trace compared with a CPU trace: the worst NMSE of each
// slot over the layers (all positions), where it was, logits top-1
// agreement and the largest per-position KL(cpu || gpu) of the logits.
type parity struct {
	worst   map[trace.Slot]float64
	layer   map[trace.Slot]int
	top1    int
	maxKL   float64
	npos    int
	overall float64
}

func compareTraces(t *testing.T, gpu, cpu *trace.Trace) parity {
	p := parity{worst: map[trace.Slot]float64{}, layer: map[trace.Slot]int{}, npos: len(cpu.Tokens)}
	for _, s := range slotNames() {
		p.worst[s] = -1
		layers := []int{-1}
		if s.IsLayer() {
			layers = layers[:0]
			for l := range cpu.Layers {
				layers = append(layers, l)
			}
		}
		for _, l := range layers {
			g, err1 := gpu.Slot(l, s)
			c, err2 := cpu.Slot(l, s)
			if err1 != nil || err2 != nil {
				t.Fatalf("slot %s layer %d: %v %v", s, l, err1, err2)
			}
			e := numcmp.NMSE(flat(g), flat(c))
			if e > p.worst[s] || math.IsNaN(e) {
				p.worst[s], p.layer[s] = e, l
			}
			if e > p.overall || math.IsNaN(e) {
				p.overall = e
			}
		}
	}
	for i := range cpu.Logits.Positions {
		c, g := cpu.Logits.Positions[i], gpu.Logits.Positions[i]
		if numcmp.Argmax(c) == numcmp.Argmax(g) {
			p.top1++
		}
		lc := numcmp.LogSoftmax(nil, c)
		lg := numcmp.LogSoftmax(nil, g)
		if kl := numcmp.KLDivergence(lc, lg); kl > p.maxKL || math.IsNaN(kl) {
			p.maxKL = kl
		}
	}
	return p
}

// Bands of the GPU-vs-CPU comparison (worst NMSE of any slot, any layer,
// all positions), set from the measured differences (TestVulkanVsCPUForward
// logs the table; lavapipe numbers in the issue-11 note):
//   - f32 mode on every model, and the F32 model in either mode: the same
//     float32 operations as the CPU in another order (matmul: a 64-way
//     tree; norms and softmax: the device's exp, division and sqrt):
//     measured at most 4.3e-13; bound 1e-9.
//   - quantized mode on every other model: activations are rounded before
//     each matmul, and a value a few ulp away on either side of a rounding
//     boundary lands one step apart, which then propagates. F16/BF16: the
//     same rounding as the CPU (measured 2.4e-7 F16, 1.2e-5 BF16). Quantized
//     types: the GPU uses Q8_1 blocks of 32 for every type (ggml's GPU
//     path), the CPU ggml-cpu's vec-dot types (Q8_0, Q8_1, Q8_K blocks of
//     256), so two valid quantizations differ: measured at most 1.6e-3
//     (q2_k ffn_out); identical types (Q8_0, Q4_1/Q5_1 layers) ~1e-14.
//     Bound 1e-2, with logits top-1 agreement required at every position.
const (
	bandFloat     = 1e-9
	bandQuantized = 1e-2
)

// TestVulkanVsCPUForward runs every fixture model in both matmul modes,
// traced over every position, on vulkan and cpu; logs worst NMSE per slot
// over layers, logits top-1 agreement and KL; asserts the bands above and
// 100% top-1 agreement; checks that a second GPU run is bit-identical and
// that an untraced GPU run's logits have the traced run's bits.
func TestVulkanVsCPUForward(t *testing.T) {
	models := fixtureModels(t)
	var table []string
	table = append(table, fmt.Sprintf("%-8s %-9s %-9s %-9s %-9s %-9s %-9s %-9s %-6s %-9s", "model", "mode", "embed", "qkv", "kqv/attn", "ffn_out", "output", "logits", "top1", "maxKL"))
	for _, name := range sortedKeys(models) {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, models[name])
			for _, mode := range []trace.MatmulMode{trace.MatmulF32, trace.MatmulQuantized} {
				opts := engine.Options{Backend: "vulkan", Matmul: mode, Threads: 1, AllPositions: true, AllLogits: true}
				gpu := runOrSkip(t, m, opts)
				if gpu.Provenance.Backend != "vulkan" || !strings.Contains(gpu.Provenance.Device, "Vulkan") {
					t.Errorf("provenance says backend %q device %q", gpu.Provenance.Backend, gpu.Provenance.Device)
				}
				gpu2 := runOrSkip(t, m, opts)
				if !bytes.Equal(traceBits(t, gpu), traceBits(t, gpu2)) {
					t.Errorf("%s: two GPU runs differ", mode)
				}
				s, err := engine.NewSession(m, engine.Options{Backend: "vulkan", Matmul: mode, Threads: 1}, len(prompt), len(prompt))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Forward(prompt, nil); err != nil {
					t.Fatal(err)
				}
				untraced := s.Logits(len(prompt))
				for i, v := range gpu.Logits.Last {
					if math.Float32bits(v) != math.Float32bits(untraced[i]) {
						t.Fatalf("%s: untraced logit %d is %v, traced %v", mode, i, untraced[i], v)
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				cpu := runOrSkip(t, m, engine.Options{Backend: "cpu", Matmul: mode, Threads: 2, AllPositions: true, AllLogits: true})
				p := compareTraces(t, gpu, cpu)
				attn := max(p.worst[trace.Slot("attn_out")], 0)
				table = append(table, fmt.Sprintf("%-8s %-9s %-9.2g %-9.2g %-9.2g %-9.2g %-9.2g %-9.2g %d/%-4d %-9.2g", name, mode,
					p.worst[trace.SlotEmbed], p.worst[trace.Slot("qkv")], attn, p.worst[trace.Slot("ffn_out")],
					p.worst[trace.Slot("output")], p.worst[trace.SlotLogits], p.top1, p.npos, p.maxKL))
				var per []string
				for _, sl := range slotNames() {
					per = append(per, fmt.Sprintf("%s %.2g (layer %d)", sl, p.worst[sl], p.layer[sl]))
				}
				t.Logf("%s %s: %s", name, mode, strings.Join(per, ", "))
				band := bandFloat
				if mode == trace.MatmulQuantized && name != "f32" {
					band = bandQuantized
				}
				if !(p.overall <= band) {
					t.Errorf("%s: worst NMSE %.3g above the band %g", mode, p.overall, band)
				}
				if p.top1 != p.npos {
					t.Errorf("%s: logits top-1 agrees at %d of %d positions", mode, p.top1, p.npos)
				}
			}
		})
	}
	t.Log("worst NMSE per slot over layers, GPU vs CPU trace, prompt of 7 tokens:\n" + strings.Join(table, "\n"))
}

// TestVulkanF32MatchesLlamaCpp: the F32 fixture model on the GPU is within
// NMSE 1e-10 of llama.cpp's own forward pass (the golden) at every slot
// and layer, in both modes, with the logits' argmax agreeing everywhere.
func TestVulkanF32MatchesLlamaCpp(t *testing.T) {
	model, ok := fixture.Path("models/qwen2-tiny-f32.gguf")
	golden, ok2 := fixture.Path("golden/forward/qwen2-tiny-f32.json.gz")
	if !ok || !ok2 {
		t.Fatal("the F32 fixture model or its golden is missing (testdata/ or ../shared/fixtures)")
	}
	g, err := trace.ReadGolden(golden)
	if err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, model)
	for _, mode := range []trace.MatmulMode{trace.MatmulF32, trace.MatmulQuantized} {
		tr, err := engine.Run(m, g.Tokens, engine.Options{Backend: "vulkan", Matmul: mode, Threads: 1, AllPositions: true, AllLogits: true})
		if errors.Is(err, backend.ErrUnavailable) {
			t.Skipf("no Vulkan device: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		worst, at := -1.0, ""
		check := func(label string, st *trace.SlotTrace, want [][]float32) {
			var w []float32
			for _, r := range want {
				w = append(w, r...)
			}
			if e := numcmp.NMSE(flat(st), w); e > worst || math.IsNaN(e) {
				worst, at = e, label
			}
		}
		check("embed", &tr.Embed, g.Embed)
		for l := range tr.Layers {
			for s, name := range trace.LayerSlots() {
				check(fmt.Sprintf("layer %d %s", l, name), &tr.Layers[l].Slots[s], g.Rows(l, name))
			}
		}
		check("final_norm", &tr.FinalNorm, g.FinalNorm)
		check("logits", &tr.Logits, g.Logits)
		agree := 0
		for p, want := range g.Logits {
			if numcmp.Argmax(tr.Logits.Positions[p]) == numcmp.Argmax(want) {
				agree++
			}
		}
		t.Logf("F32 model on %s, %s mode: worst NMSE vs llama.cpp %.3g at %s; argmax agrees at %d/%d", tr.Provenance.Device, mode, worst, at, agree, len(g.Logits))
		if !(worst <= 1e-10) {
			t.Errorf("%s mode: worst NMSE %.3g at %s, want <= 1e-10", mode, worst, at)
		}
		if agree != len(g.Logits) {
			t.Errorf("%s mode: argmax agrees at %d of %d positions", mode, agree, len(g.Logits))
		}
	}
}

func sortedKeys(m map[string]string) []string {
	out := slices.Collect(maps.Keys(m))
	slices.Sort(out)
	return out
}

// TestVulkanRefusesLikeCPU: a model with a weight in a type the engine
// does not decode (IQ2_XXS planted into blk.1.ffn_up.weight), and one cut
// short, give on the GPU path exactly the error the CPU path gives (today
// both are refused by engine.Load, before a backend is opened; the test
// keeps a GPU-only check from creeping in ahead of them).
func TestVulkanRefusesLikeCPU(t *testing.T) {
	src := fixture.Require(t, "models/qwen2-tiny-q8_0.gguf")
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := gguf.Copy(f, func(ti *gguf.TensorInfo, data []byte) (quant.Type, []uint64, []byte, error) {
		if ti.Name != "blk.1.ffn_up.weight" {
			return ti.Type, ti.Dims, data, nil
		}
		rows := int(ti.Dims[1])
		blocks := int(ti.Dims[0]) / quant.IQ2_XXS.BlockSize()
		return quant.IQ2_XXS, ti.Dims, make([]byte, rows*blocks*quant.IQ2_XXS.TypeSize()), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	unsupported := filepath.Join(t.TempDir(), "iq2_xxs-planted.gguf")
	if err := w.WriteFile(unsupported); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.gguf")
	if err := os.WriteFile(truncated, whole[:len(whole)-4096], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{unsupported, truncated} {
		errs := map[string]error{}
		for _, be := range []string{"cpu", "vulkan"} {
			m, err := engine.Load(path)
			if err == nil {
				_, err = engine.Run(m, prompt, engine.Options{Backend: be, Matmul: trace.MatmulQuantized, Threads: 1})
				if cerr := m.Close(); cerr != nil {
					t.Errorf("%s: close: %v", be, cerr)
				}
			}
			if errors.Is(err, backend.ErrUnavailable) {
				t.Skipf("no Vulkan device: %v", err)
			}
			errs[be] = err
		}
		t.Logf("%s: cpu: %v", filepath.Base(path), errs["cpu"])
		if errs["cpu"] == nil || errs["vulkan"] == nil || errs["cpu"].Error() != errs["vulkan"].Error() {
			t.Errorf("%s: cpu error %v, vulkan error %v: want the same error", filepath.Base(path), errs["cpu"], errs["vulkan"])
		}
	}
}
