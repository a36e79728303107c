package engine_test

import (
	"flag"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/synth"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/trace"
)

// qwen05Shape is a Qwen2-0.5B-shaped model (24 layers, hidden 896, 14
// heads, 2 KV heads, FFN 4864, vocab 151936, tied) with random weights:
// Q4_K where rows are whole 256-blocks (ffn_down), Q8_0 elsewhere.
// -bench.model replaces it with any GGUF file (e.g. the Q4_K_M-like
// models `falsify bench` generates under the cache's bench/ directory).
func qwen05Shape(b *testing.B) string {
	b.Helper()
	if *benchModel != "" {
		return *benchModel
	}
	path, err := synth.Qwen05BenchModel(fixture.Require(b, "tokenizer/ggml-vocab-qwen2.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	return path
}

var benchPrompt = []int32{3838, 374, 220, 17, 10, 17, 30}

// benchThreads is the engine's thread count in these benchmarks
// (`go test ./engine -bench Prefill -args -bench.threads 1`).
var benchModel = flag.String("bench.model", "", "GGUF file of the engine benchmarks (default: the generated Qwen2-0.5B shape)")

var benchThreads = flag.Int("bench.threads", 2, "threads of the engine benchmarks")

// benchPromptN is an n-token prompt: benchPrompt repeated, each repeat's
// ids shifted so that no two positions see the same row of every matrix.
func benchPromptN(n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = benchPrompt[i%len(benchPrompt)] + int32(i/len(benchPrompt))
	}
	return p
}

func benchmarkPrefill(b *testing.B, prompt []int32, traced bool, mode trace.MatmulMode) {
	benchmarkPrefillOpts(b, prompt, engine.Options{Trace: traced, Matmul: mode})
}

// benchmarkPrefillOpts times prefills of prompt with opts (its Threads
// replaced by -bench.threads).
func benchmarkPrefillOpts(b *testing.B, prompt []int32, opts engine.Options) {
	m, err := engine.Load(qwen05Shape(b))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	opts.Threads = *benchThreads
	s, err := engine.NewSession(m, opts, len(prompt), len(prompt))
	if err != nil {
		b.Fatal(err)
	}
	tr := &trace.Trace{}
	startCPU(b)
	for range b.N {
		s.Reset()
		if err := s.Forward(prompt, tr); err != nil {
			b.Fatal(err)
		}
	}
	reportTokens(b, len(prompt))
}

func reportTokens(b *testing.B, tokens int) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perOp*1e3, "ms/op")
	b.ReportMetric(float64(tokens)/perOp, "tokens/s")
	if cpu0, ok := benchCPUStart[b.Name()]; ok {
		b.ReportMetric((processCPU()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
	}
}

// benchCPUStart holds each benchmark's process CPU time (user + system)
// at its ResetTimer (startCPU), for the cpu-ms/op metric: on a machine
// shared with other jobs the CPU time a 1-thread run takes moves much
// less than its wall time (it still includes cache and memory contention).
var benchCPUStart = map[string]time.Duration{}

func startCPU(b *testing.B) {
	b.ResetTimer()
	benchCPUStart[b.Name()] = processCPU()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPrefill7 prefills the 7-token prompt on the Qwen2-0.5B shape
// with 2 threads (-bench.threads), with the capture points on and off
// (quantized matmul; traced with the last position's logits, the
// default, and with every position's; traced-positions keeps every
// position's vectors, as a contract subject and `falsify bench`'s traced
// row do), and untraced in f32 matmul mode.
func BenchmarkPrefill7(b *testing.B) {
	b.Run("untraced", func(b *testing.B) { benchmarkPrefill(b, benchPrompt, false, trace.MatmulQuantized) })
	b.Run("traced", func(b *testing.B) { benchmarkPrefill(b, benchPrompt, true, trace.MatmulQuantized) })
	b.Run("traced-all-logits", func(b *testing.B) {
		benchmarkPrefillOpts(b, benchPrompt, engine.Options{Trace: true, AllLogits: true})
	})
	b.Run("traced-positions", func(b *testing.B) {
		benchmarkPrefillOpts(b, benchPrompt, engine.Options{Trace: true, AllPositions: true})
	})
	b.Run("untraced-f32", func(b *testing.B) { benchmarkPrefill(b, benchPrompt, false, trace.MatmulF32) })
}

// BenchmarkPrefill64 prefills a 64-token prompt on the Qwen2-0.5B shape,
// traced (last position's logits, and every position's) and untraced
// (quantized matmul).
func BenchmarkPrefill64(b *testing.B) {
	p := benchPromptN(64)
	b.Run("untraced", func(b *testing.B) { benchmarkPrefill(b, p, false, trace.MatmulQuantized) })
	b.Run("traced", func(b *testing.B) { benchmarkPrefill(b, p, true, trace.MatmulQuantized) })
	b.Run("traced-all-logits", func(b *testing.B) { benchmarkPrefillOpts(b, p, engine.Options{Trace: true, AllLogits: true}) })
}

// BenchmarkPrefill256 prefills a 256-token prompt (attention's share grows
// with the prompt), traced (with and without every position's vectors)
// and untraced (quantized matmul).
func BenchmarkPrefill256(b *testing.B) {
	p := benchPromptN(256)
	b.Run("untraced", func(b *testing.B) { benchmarkPrefill(b, p, false, trace.MatmulQuantized) })
	b.Run("traced", func(b *testing.B) { benchmarkPrefill(b, p, true, trace.MatmulQuantized) })
	b.Run("traced-positions", func(b *testing.B) { benchmarkPrefillOpts(b, p, engine.Options{Trace: true, AllPositions: true}) })
}

// BenchmarkDecode measures one decode step (position 7, after the prompt)
// on the Qwen2-0.5B shape with 2 threads (-bench.threads), in both matmul
// modes.
func BenchmarkDecode(b *testing.B) {
	for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
		b.Run(string(mode), func(b *testing.B) {
			m, err := engine.Load(qwen05Shape(b))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			s, err := engine.NewSession(m, engine.Options{Threads: *benchThreads, Matmul: mode}, len(benchPrompt), 64)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Forward(benchPrompt, nil); err != nil {
				b.Fatal(err)
			}
			next := []int32{11}
			startCPU(b)
			for range b.N {
				if err := s.Forward(next, nil); err != nil {
					b.Fatal(fmt.Errorf("decode: %w", err))
				}
				s.Rewind(len(benchPrompt))
			}
			reportTokens(b, 1)
		})
	}
}
