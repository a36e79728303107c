package vulkan_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/synth"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// Benchmarks of the Vulkan backend (reported, never asserted). The model
// is the q4_k_m fixture unless FALSIFY_VULKAN_BENCH_MODEL names a GGUF
// file, or "0.5b" for a generated Qwen2-0.5B-shaped model (24 layers,
// hidden 896, vocab 151936; Q4_K ffn_down, Q8_0 elsewhere: the shape of
// engine's BenchmarkPrefill7). On lavapipe the 0.5B shape's Q8_0 embedding
// (145 MB) exceeds maxStorageBufferRange (128 MiB) and is refused; a GPU
// takes it.
//
//	go test ./engine/vulkan -run '^$' -bench BenchmarkVulkan -benchtime 5x
func benchModel(b *testing.B) string {
	b.Helper()
	switch p := os.Getenv("FALSIFY_VULKAN_BENCH_MODEL"); p {
	case "":
		return fixture.Require(b, "models/qwen2-tiny-q4_k_m.gguf")
	case "0.5b":
		return qwen05Shape(b)
	default:
		return p
	}
}

// qwen05Shape writes (once, under the temp dir) the Qwen2-0.5B-shaped
// model engine's benchmarks use, with the same spec and file name.
func qwen05Shape(b *testing.B) string {
	b.Helper()
	path, err := synth.Qwen05BenchModel(fixture.Require(b, "tokenizer/ggml-vocab-qwen2.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	return path
}

// benchSession opens a Vulkan session on the bench model, skipping when
// there is no device.
func benchSession(b *testing.B, opts engine.Options, maxBatch, maxCtx int) (*engine.Model, *engine.Session) {
	b.Helper()
	m, err := engine.Load(benchModel(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	opts.Backend = "vulkan"
	s, err := engine.NewSession(m, opts, maxBatch, maxCtx)
	if errors.Is(err, backend.ErrUnavailable) {
		b.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	b.Logf("device: %s", s.Backend().Device())
	return m, s
}

func reportTokens(b *testing.B, tokens int) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perOp*1e3, "ms/op")
	b.ReportMetric(float64(tokens)/perOp, "tokens/s")
}

// BenchmarkVulkanPrefill7 prefills the 7-token prompt traced (every
// capture point read back) and untraced (only the logits), per mode.
func BenchmarkVulkanPrefill7(b *testing.B) {
	for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
		for _, traced := range []bool{false, true} {
			name := fmt.Sprintf("%s/untraced", mode)
			if traced {
				name = fmt.Sprintf("%s/traced", mode)
			}
			b.Run(name, func(b *testing.B) {
				_, s := benchSession(b, engine.Options{Threads: 1, Trace: traced, Matmul: mode}, len(prompt), len(prompt))
				tr := &trace.Trace{}
				if err := s.Forward(prompt, tr); err != nil { // builds the pipelines
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					s.Reset()
					if err := s.Forward(prompt, tr); err != nil {
						b.Fatal(err)
					}
				}
				reportTokens(b, len(prompt))
			})
		}
	}
}

// BenchmarkVulkanDecode measures one decode step at position 7.
func BenchmarkVulkanDecode(b *testing.B) {
	for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
		b.Run(string(mode), func(b *testing.B) {
			_, s := benchSession(b, engine.Options{Threads: 1, Matmul: mode}, len(prompt), 64)
			if err := s.Forward(prompt, nil); err != nil {
				b.Fatal(err)
			}
			next := []int32{11}
			if err := s.Forward(next, nil); err != nil { // builds the decode pipelines
				b.Fatal(err)
			}
			s.Rewind(len(prompt))
			b.ResetTimer()
			for range b.N {
				if err := s.Forward(next, nil); err != nil {
					b.Fatal(fmt.Errorf("decode: %w", err))
				}
				s.Rewind(len(prompt))
			}
			reportTokens(b, 1)
		})
	}
}
