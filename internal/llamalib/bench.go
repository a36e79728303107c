package llamalib

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Bench is a model loaded in llama.cpp (CPU) for timing, as llama-bench
// times it: no eval callback (nothing is read back but the logits llama.cpp
// computes anyway), a fresh context for each timed run so the KV cache
// starts empty. Not safe for concurrent use.
type Bench struct {
	l       *lib
	model   uintptr
	threads int
}

// OpenBench loads the GGUF model at path for Prefill and Decode timings
// with threads threads. Errors wrap ErrUnavailable when the library is
// not installed.
func OpenBench(path string, threads int) (*Bench, error) {
	l, err := open()
	if err != nil {
		return nil, err
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	mp := l.modelDefaultParams()
	devs := []uintptr{0} // CPU only: an explicit, empty device list
	mp.NGPULayers = 0
	mp.Devices = uintptr(unsafe.Pointer(&devs[0]))
	runMu.Lock()
	model := l.modelLoad(path, mp)
	runMu.Unlock()
	runtime.KeepAlive(devs)
	if model == 0 {
		return nil, fmt.Errorf("llama.cpp could not load %s; its log ends:\n%s", path, lastLog())
	}
	return &Bench{l: l, model: model, threads: threads}, nil
}

// Close frees the model.
func (b *Bench) Close() {
	if b.model != 0 {
		b.l.modelFree(b.model)
		b.model = 0
	}
}

// Prefill times one llama_decode of tokens as a single batch at positions
// 0.., with the output of the last position only (llama-bench's pp test).
func (b *Bench) Prefill(tokens []int32) (time.Duration, error) {
	return b.timed(len(tokens), func(ctx uintptr, bt *batch) error {
		return b.step(ctx, bt, tokens, 0)
	})
}

// Decode times n llama_decode calls of one token each at positions
// 0..n-1 (llama-bench's tg test), feeding token every time.
func (b *Bench) Decode(token int32, n int) (time.Duration, error) {
	return b.timed(n, func(ctx uintptr, bt *batch) error {
		for i := range n {
			if err := b.step(ctx, bt, []int32{token}, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// timed makes a context for maxTokens positions, runs f on it and
// returns f's wall time (the context's set-up and teardown excluded).
func (b *Bench) timed(maxTokens int, f func(ctx uintptr, bt *batch) error) (time.Duration, error) {
	if maxTokens <= 0 {
		return 0, fmt.Errorf("nothing to decode")
	}
	runMu.Lock()
	defer runMu.Unlock()
	l := b.l
	cp := l.contextDefaultParams()
	n := uint32(maxTokens)
	cp.NCtx = max(n, 16)
	cp.NBatch, cp.NUbatch = max(n, 1), max(n, 1)
	cp.NSeqMax = 1
	cp.NThreads, cp.NThreadsBatch = int32(b.threads), int32(b.threads)
	cp.FlashAttnType = 0 // disabled, as the engine computes attention
	cp.NoPerf = true
	cp.OpOffload = false
	cp.CbEval = 0
	ctx := l.initFromModel(b.model, cp)
	if ctx == 0 {
		return 0, fmt.Errorf("llama.cpp could not make a context; its log ends:\n%s", lastLog())
	}
	defer l.free(ctx)
	bt := l.batchInit(int32(maxTokens), 0, 1)
	defer l.batchFree(bt)
	start := time.Now()
	if err := f(ctx, &bt); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// step decodes tokens at positions pos.. with the last one's output.
func (b *Bench) step(ctx uintptr, bt *batch, tokens []int32, pos int) error {
	m := len(tokens)
	bt.NTokens = int32(m)
	tok := unsafe.Slice((*int32)(ptr(bt.Token)), m)
	ps := unsafe.Slice((*int32)(ptr(bt.Pos)), m)
	nseq := unsafe.Slice((*int32)(ptr(bt.NSeqID)), m)
	seq := unsafe.Slice((**int32)(ptr(bt.SeqID)), m)
	outp := unsafe.Slice((*int8)(ptr(bt.Logits)), m)
	for i := range m {
		tok[i] = tokens[i]
		ps[i] = int32(pos + i)
		nseq[i] = 1
		*seq[i] = 0
		outp[i] = 0
	}
	outp[m-1] = 1
	if rc := b.l.decode(ctx, *bt); rc != 0 {
		return fmt.Errorf("llama_decode returned %d at positions %d..%d", rc, pos, pos+m-1)
	}
	return nil
}
