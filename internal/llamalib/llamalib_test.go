package llamalib

import (
	"errors"
	"testing"
)

func requireLib(t *testing.T) *lib {
	t.Helper()
	l, err := open()
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("llama.cpp unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestContextParamsLayout: llama_context_default_params, read through
// contextParams, gives llama.cpp's documented defaults at every field
// this package sets or reads, so the offsets agree with the library.
func TestContextParamsLayout(t *testing.T) {
	l := requireLib(t)
	p := l.contextDefaultParams()
	checks := []struct {
		name      string
		got, want any
	}{
		{"n_ctx", p.NCtx, uint32(512)}, {"n_batch", p.NBatch, uint32(2048)}, {"n_ubatch", p.NUbatch, uint32(512)},
		{"n_seq_max", p.NSeqMax, uint32(1)}, {"n_outputs_max_per_seq", p.NOutputsMaxPerSeq, uint32(1)},
		{"rope_scaling_type", p.RopeScalingType, int32(-1)}, {"pooling_type", p.PoolingType, int32(-1)},
		{"attention_type", p.AttentionType, int32(-1)}, {"flash_attn_type", p.FlashAttnType, int32(-1)},
		{"yarn_ext_factor", p.YarnExtFactor, float32(-1)}, {"defrag_thold", p.DefragThold, float32(-1)},
		{"cb_eval", p.CbEval, uintptr(0)}, {"type_k", p.TypeK, int32(typeF16)}, {"type_v", p.TypeV, int32(typeF16)},
		{"abort_callback", p.AbortCallback, uintptr(0)},
		{"embeddings", p.Embeddings, false}, {"offload_kqv", p.OffloadKQV, true}, {"no_perf", p.NoPerf, true},
		{"op_offload", p.OpOffload, true}, {"swa_full", p.SwaFull, true}, {"kv_unified", p.KVUnified, false},
		{"samplers", p.Samplers, uintptr(0)}, {"ctx_other", p.CtxOther, uintptr(0)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v: llama_context_params layout differs from this build", c.name, c.got, c.want)
		}
	}
	if p.NThreads <= 0 || p.NThreads != p.NThreadsBatch {
		t.Errorf("n_threads %d / n_threads_batch %d", p.NThreads, p.NThreadsBatch)
	}
}

// TestModelParamsLayout: llama_model_default_params, read through
// modelParams, gives llama.h's defaults at every field, so the offsets
// this package writes (devices, n_gpu_layers) agree with the library.
func TestModelParamsLayout(t *testing.T) {
	l := requireLib(t)
	p := l.modelDefaultParams()
	checks := []struct {
		name      string
		got, want any
	}{
		{"devices", p.Devices, uintptr(0)}, {"tensor_buft_overrides", p.TensorBuftOverrides, uintptr(0)},
		{"n_gpu_layers", p.NGPULayers, int32(-1)}, {"split_mode", p.SplitMode, int32(1)},
		{"load_mode", p.LoadMode, int32(-1)}, {"lazy_mode", p.LazyMode, int32(1)}, {"main_gpu", p.MainGPU, int32(0)},
		{"tensor_split", p.TensorSplit, uintptr(0)}, {"progress_callback", p.ProgressCallback, uintptr(0)},
		{"kv_overrides", p.KVOverrides, uintptr(0)},
		{"vocab_only", p.VocabOnly, false}, {"check_tensors", p.CheckTensors, false}, {"use_extra_bufts", p.UseExtraBufts, true},
		{"no_host", p.NoHost, false}, {"no_alloc", p.NoAlloc, false}, {"load_mtp", p.LoadMTP, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v: llama_model_params layout differs from this build", c.name, c.got, c.want)
		}
	}
}
