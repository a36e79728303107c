package ggmlref

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func openLib(t *testing.T) *Lib {
	t.Helper()
	l, err := Open()
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func randF32(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0))
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// mulMatGraph runs ggml_mul_mat of a q4_K (rows, cols) weight and n
// float32 activation rows on b, and returns the weight (dequantized by
// ggml), the activations and the result.
func mulMatGraph(t *testing.T, l *Lib, b *Backend, rows, cols, n int) (w, x, y []float32) {
	t.Helper()
	wq, err := l.QuantizeRef(12, randF32(1, rows*cols))
	if err != nil {
		t.Fatal(err)
	}
	if w, err = l.Dequantize(12, wq, rows*cols); err != nil {
		t.Fatal(err)
	}
	x = randF32(2, n*cols)
	g, err := b.NewGraph()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	out := g.MulMat(g.Input(12, wq, int64(cols), int64(rows)), g.InputF32(x, int64(cols), int64(n)))
	if err := g.Compute(out); err != nil {
		t.Fatal(err)
	}
	if got := out.Ne(); got != [4]int64{int64(rows), int64(n), 1, 1} {
		t.Fatalf("result shape %v", got)
	}
	if y, err = g.ReadF32(out); err != nil {
		t.Fatal(err)
	}
	return w, x, y
}

// A quantized mul_mat on ggml's CPU backend agrees with a float64 product
// of ggml's dequantized weights (up to the Q8_K activation quantization
// the CPU backend applies), and the graph checks what it is given.
func TestGraphCPU(t *testing.T) {
	l := openLib(t)
	b, err := l.CPUBackend(1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t.Logf("backend %s on %v", b.Name, b.Device)
	if b.Device.Type != "CPU" {
		t.Errorf("CPU backend device type %q", b.Device.Type)
	}
	const rows, cols, n = 16, 512, 3
	w, x, y := mulMatGraph(t, l, b, rows, cols, n)
	var num, den float64
	for tk := range n {
		for r := range rows {
			var s float64
			for c := range cols {
				s += float64(w[r*cols+c]) * float64(x[tk*cols+c])
			}
			d := float64(y[tk*rows+r]) - s
			num += d * d
			den += s * s
		}
	}
	if nmse := num / den; nmse > 5e-4 || nmse == 0 {
		t.Errorf("q4_K mul_mat vs float64: NMSE %.3g, want (0, 5e-4] (Q8_K activations)", nmse)
	} else {
		t.Logf("q4_K mul_mat vs float64 product: NMSE %.3g", nmse)
	}

	g, err := b.NewGraph()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	bad := g.MulMat(g.InputF32(make([]float32, 8), 4, 2), g.InputF32(make([]float32, 6), 3, 2))
	if err := g.Compute(bad); err == nil || !strings.Contains(err.Error(), "shapes do not fit") {
		t.Errorf("mismatched mul_mat: err = %v", err)
	}
	g2, _ := b.NewGraph()
	defer g2.Free()
	g2.InputF32(make([]float32, 3), 4)
	if err := g2.Compute(Tensor{}); err == nil || !strings.Contains(err.Error(), "needs 16 bytes") {
		t.Errorf("short input: err = %v", err)
	}
}

// ggml's Vulkan backend runs the same graph on the Vulkan device (the
// result lives in a buffer of that device) and agrees with ggml's CPU.
func TestGraphVulkan(t *testing.T) {
	l := openLib(t)
	vk, err := l.VulkanBackend()
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer vk.Close()
	t.Logf("backend %s on %v", vk.Name, vk.Device)
	cpu, err := l.CPUBackend(1)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	for _, n := range []int{1, 5} {
		_, _, want := mulMatGraph(t, l, cpu, 16, 512, n)
		_, _, got := mulMatGraph(t, l, vk, 16, 512, n)
		var num, den float64
		for i := range want {
			d := float64(got[i]) - float64(want[i])
			num += d * d
			den += float64(want[i]) * float64(want[i])
		}
		if nmse := num / den; !(nmse <= 5e-4) {
			t.Errorf("n=%d: q4_K mul_mat Vulkan vs CPU NMSE %.3g > 5e-4", n, nmse)
		} else {
			t.Logf("n=%d: q4_K mul_mat Vulkan vs CPU NMSE %.3g", n, nmse)
		}
	}
}
