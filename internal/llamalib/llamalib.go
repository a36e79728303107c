package llamalib

import (
	"context"
	"errors"
	"fmt"
	"github.com/falsify/falsify/internal/digest"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrUnavailable is wrapped when the libraries are not installed; the
// message says which directory was searched and how to install them.
var ErrUnavailable = errors.New("llama.cpp library unavailable")

// InstallCommand installs the libraries this package loads.
const InstallCommand = "scripts/fetch-llamacpp.sh (or make oracles)"

// Dir is where the libraries are looked for: the linux-x64 bins of the
// node-llama-cpp install ($FALSIFY_NODE_LLAMA_CPP or
// ~/.cache/falsify/node-llama-cpp).
func Dir() string {
	nlc := os.Getenv("FALSIFY_NODE_LLAMA_CPP")
	if nlc == "" {
		home, _ := os.UserHomeDir()
		nlc = filepath.Join(home, ".cache", "falsify", "node-llama-cpp")
	}
	return filepath.Join(nlc, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")
}

// CPUVariantEnv names the CPU variant of ggml's CPU backend to load
// (zen4, haswell, sapphirerapids, ...: libggml-cpu-VARIANT.so) instead of
// the one ggml's loader picks for this CPU.
const CPUVariantEnv = "FALSIFY_LLAMACPP_CPU"

// Library names in load order: each needs the ones before it.
var libNames = []string{"libggml-base.so", "libggml.v0.4.0.so", "libllama.v0.4.0.so"}

// LibFile is one loaded library, for provenance.
type LibFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// contextParams mirrors struct llama_context_params of the llama.h that
// ships with this build (llama.cpp v0.4.0 as node-llama-cpp 3.21.1
// bundles it, node-llama-cpp/llama/gitRelease.bundle, commit 80fb11ac).
// TestContextParamsLayout checks the offsets against the library's own
// llama_context_default_params.
type contextParams struct {
	NCtx, NBatch, NUbatch, NSeqMax, NRsSeq, NOutputsMax, NOutputsMaxPerSeq uint32
	NThreads, NThreadsBatch                                                int32
	CtxType, RopeScalingType, PoolingType, AttentionType, FlashAttnType    int32
	RopeFreqBase, RopeFreqScale                                            float32
	YarnExtFactor, YarnAttnFactor, YarnBetaFast, YarnBetaSlow              float32
	YarnOrigCtx                                                            uint32
	DefragThold                                                            float32
	CbEval, CbEvalUserData                                                 uintptr
	TypeK, TypeV                                                           int32
	AbortCallback, AbortCallbackData                                       uintptr
	Embeddings, OffloadKQV, NoPerf, OpOffload, SwaFull, KVUnified          bool
	_                                                                      [2]byte
	Samplers                                                               uintptr
	NSamplers                                                              uintptr
	CtxOther                                                               uintptr
}

// modelParams mirrors struct llama_model_params of the same llama.h
// (80 bytes; TestModelParamsLayout checks it against
// llama_model_default_params).
type modelParams struct {
	Devices             uintptr // ggml_backend_dev_t *, NULL-terminated; NULL = every GPU
	TensorBuftOverrides uintptr
	NGPULayers          int32 // -1 = all layers
	SplitMode           int32
	LoadMode            int32
	LazyMode            int32
	MainGPU             int32
	_                   int32
	TensorSplit         uintptr
	ProgressCallback    uintptr
	ProgressUserData    uintptr
	KVOverrides         uintptr
	VocabOnly           bool
	CheckTensors        bool
	UseExtraBufts       bool
	NoHost              bool
	NoAlloc             bool
	LoadMTP             bool
	_                   [2]byte
}

// batch mirrors struct llama_batch.
type batch struct {
	NTokens int32
	_       int32
	Token   uintptr // llama_token *
	Embd    uintptr // float *
	Pos     uintptr // llama_pos *
	NSeqID  uintptr // int32_t *
	SeqID   uintptr // llama_seq_id **
	Logits  uintptr // int8_t *
}

// Offsets into struct ggml_tensor (ggml.h of the same build; checked by
// TestTensorLayout against ggml_get_name and ggml_nelements).
const (
	offType   = 0
	offBuffer = 8
	offNe     = 16
	offNb     = 48
	offOp     = 80
	offSrc    = 152
	offData   = 248
	offName   = 256
	nameSize  = 64
)

// GGML types of the KV cache (ggml.h enum ggml_type).
const (
	typeF32  = 0
	typeF16  = 1
	typeQ8_0 = 8
)

// lib holds the bound functions.
type lib struct {
	dir        string
	cpuVariant string
	files      []LibFile

	backendInit           func()
	logSet                func(cb, ud uintptr)
	loadAllFromPath       func(dir string)
	backendLoad           func(path string) uintptr
	modelDefaultParams    func() modelParams
	modelLoad             func(path string, p modelParams) uintptr
	modelFree             func(m uintptr)
	modelNLayer           func(m uintptr) int32
	modelMetaValStr       func(m uintptr, key string, buf unsafe.Pointer, size uintptr) int32
	modelGetVocab         func(m uintptr) uintptr
	vocabNTokens          func(v uintptr) int32
	contextDefaultParams  func() contextParams
	initFromModel         func(m uintptr, p contextParams) uintptr
	free                  func(ctx uintptr)
	batchInit             func(n, embd, nSeqMax int32) batch
	batchFree             func(b batch)
	decode                func(ctx uintptr, b batch) int32
	printSystemInfo       func() string
	ggmlVersion           func() string
	ggmlCommit            func() string
	getName               func(t uintptr) uintptr
	nelements             func(t uintptr) int64
	opName                func(op int32) string
	tensorGet             func(t uintptr, data unsafe.Pointer, offset, size uintptr)
	backendDevCount       func() uintptr
	backendDevGet         func(i uintptr) uintptr
	backendDevName        func(d uintptr) string
	backendDevDescription func(d uintptr) string
	backendDevType        func(d uintptr) int32
	bufferGetType         func(b uintptr) uintptr
	bufferName            func(b uintptr) string
	regDevCount           func(r uintptr) uintptr
	regDevGet             func(r uintptr, i uintptr) uintptr
	buftGetDevice         func(bt uintptr) uintptr

	vulkan *vulkanLib // set by openVulkan
}

var (
	loadOnce sync.Once
	loaded   *lib
	loadErr  error
)

// open loads the libraries once per process.
func open() (*lib, error) {
	loadOnce.Do(func() { loaded, loadErr = load(Dir()) })
	return loaded, loadErr
}

func load(dir string) (*lib, error) {
	l := &lib{dir: dir}
	handles := map[string]uintptr{}
	for _, name := range libNames {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %s not found (install it with %s)", ErrUnavailable, p, InstallCommand)
		}
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			return nil, fmt.Errorf("%w: loading %s: %v", ErrUnavailable, p, err)
		}
		handles[name] = h
		sum, err := sha256File(p)
		if err != nil {
			return nil, err
		}
		l.files = append(l.files, LibFile{Path: p, SHA256: sum})
	}
	base, ggml, llama := handles[libNames[0]], handles[libNames[1]], handles[libNames[2]]
	reg := func(fptr any, h uintptr, name string) {
		if loadErr != nil {
			return
		}
		defer func() {
			if r := recover(); r != nil {
				loadErr = fmt.Errorf("%w: %s: %v", ErrUnavailable, name, r)
			}
		}()
		purego.RegisterLibFunc(fptr, h, name)
	}
	reg(&l.backendInit, llama, "llama_backend_init")
	reg(&l.logSet, llama, "llama_log_set")
	reg(&l.loadAllFromPath, ggml, "ggml_backend_load_all_from_path")
	reg(&l.backendLoad, ggml, "ggml_backend_load")
	reg(&l.modelDefaultParams, llama, "llama_model_default_params")
	reg(&l.modelLoad, llama, "llama_model_load_from_file")
	reg(&l.modelFree, llama, "llama_model_free")
	reg(&l.modelNLayer, llama, "llama_model_n_layer")
	reg(&l.modelMetaValStr, llama, "llama_model_meta_val_str")
	reg(&l.modelGetVocab, llama, "llama_model_get_vocab")
	reg(&l.vocabNTokens, llama, "llama_vocab_n_tokens")
	reg(&l.contextDefaultParams, llama, "llama_context_default_params")
	reg(&l.initFromModel, llama, "llama_init_from_model")
	reg(&l.free, llama, "llama_free")
	reg(&l.batchInit, llama, "llama_batch_init")
	reg(&l.batchFree, llama, "llama_batch_free")
	reg(&l.decode, llama, "llama_decode")
	reg(&l.printSystemInfo, llama, "llama_print_system_info")
	reg(&l.ggmlVersion, base, "ggml_version")
	reg(&l.ggmlCommit, base, "ggml_commit")
	reg(&l.getName, base, "ggml_get_name")
	reg(&l.nelements, base, "ggml_nelements")
	reg(&l.opName, base, "ggml_op_name")
	reg(&l.tensorGet, base, "ggml_backend_tensor_get")
	reg(&l.backendDevCount, ggml, "ggml_backend_dev_count")
	reg(&l.backendDevGet, ggml, "ggml_backend_dev_get")
	reg(&l.backendDevName, base, "ggml_backend_dev_name")
	reg(&l.backendDevDescription, base, "ggml_backend_dev_description")
	reg(&l.backendDevType, base, "ggml_backend_dev_type")
	reg(&l.bufferGetType, base, "ggml_backend_buffer_get_type")
	reg(&l.bufferName, base, "ggml_backend_buffer_name")
	reg(&l.regDevCount, base, "ggml_backend_reg_dev_count")
	reg(&l.regDevGet, base, "ggml_backend_reg_dev_get")
	reg(&l.buftGetDevice, base, "ggml_backend_buft_get_device")
	if loadErr != nil {
		return nil, loadErr
	}
	if unsafe.Sizeof(contextParams{}) != 160 || unsafe.Sizeof(batch{}) != 56 || unsafe.Sizeof(modelParams{}) != 80 {
		return nil, fmt.Errorf("llama.h struct sizes on this platform: context params %d (want 160), batch %d (want 56), model params %d (want 80)", unsafe.Sizeof(contextParams{}), unsafe.Sizeof(batch{}), unsafe.Sizeof(modelParams{}))
	}
	// llama.cpp logs every tensor it loads to stderr; keep the tail for
	// error messages (and the loader's choice of CPU variant) instead.
	l.logSet(purego.NewCallback(logLine), 0)
	// The CPU backend is a separate library per instruction set: ggml's
	// loader picks the best for this CPU from the directory, unless
	// CPUVariantEnv names one (the variants round F16 and quantize
	// activations with different instructions, so a golden made on
	// another machine needs the variant that made it).
	if v := os.Getenv(CPUVariantEnv); v != "" {
		p := filepath.Join(dir, "libggml-cpu-"+v+".so")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", CPUVariantEnv, v, err)
		}
		if l.backendLoad(p) == 0 {
			return nil, fmt.Errorf("%w: %s=%s: ggml could not load %s (this CPU lacks its instructions, or the file is broken)", ErrUnavailable, CPUVariantEnv, v, p)
		}
		l.cpuVariant = p
		sum, err := sha256File(p)
		if err != nil {
			return nil, err
		}
		l.files = append(l.files, LibFile{Path: p, SHA256: sum})
	} else {
		l.loadAllFromPath(dir)
	}
	l.backendInit()
	if l.cpuVariant == "" {
		// ggml's loader says which variant it chose; provenance names it.
		logMu.Lock()
		for _, line := range logTail {
			if p, ok := strings.CutPrefix(line, "load_backend: loaded CPU backend from "); ok {
				l.cpuVariant = strings.TrimSpace(p)
			}
		}
		logMu.Unlock()
		if l.cpuVariant != "" {
			sum, err := sha256File(l.cpuVariant)
			if err != nil {
				return nil, err
			}
			l.files = append(l.files, LibFile{Path: l.cpuVariant, SHA256: sum})
		}
	}
	return l, nil
}

func sha256File(path string) (string, error) {
	// internal/digest: libggml-vulkan alone is 55 MB, hashed on every run
	// otherwise; its cache is keyed by the file's identity (inode, ctime).
	sum, _, err := digest.SHA256(context.Background(), path)
	return sum, err
}

// cString reads a NUL-terminated C string of at most max bytes at p,
// byte by byte: the bytes after the NUL may not be mapped.
func cString(p uintptr, max int) string {
	if p == 0 {
		return ""
	}
	n := 0
	for n < max && *(*byte)(ptr(p + uintptr(n))) != 0 {
		n++
	}
	return string(unsafe.Slice((*byte)(ptr(p)), n))
}

// tensor is a view of a struct ggml_tensor in C memory.
type tensor uintptr

func (t tensor) name() string { return cString(uintptr(t)+offName, nameSize) }
func (t tensor) typ() int32   { return *(*int32)(ptr(uintptr(t) + offType)) }
func (t tensor) op() int32    { return *(*int32)(ptr(uintptr(t) + offOp)) }

// buffer is the ggml_backend_buffer_t the tensor lives in: for a graph
// node, the compute buffer of the backend the scheduler ran it on.
func (t tensor) buffer() uintptr { return *(*uintptr)(ptr(uintptr(t) + offBuffer)) }
func (t tensor) ne(i int) int64 {
	return *(*int64)(ptr(uintptr(t) + offNe + 8*uintptr(i)))
}
func (t tensor) nb(i int) int64 {
	return *(*int64)(ptr(uintptr(t) + offNb + 8*uintptr(i)))
}
func (t tensor) src(i int) tensor {
	return tensor(*(*uintptr)(ptr(uintptr(t) + offSrc + 8*uintptr(i))))
}

// read copies an F32 tensor's elements in ggml's logical order (ne[0]
// fastest), following its strides, through ggml_backend_tensor_get (so a
// tensor in device memory reads as well as one in host memory).
func (l *lib) read(t tensor) ([]float32, error) {
	if t.typ() != typeF32 {
		return nil, fmt.Errorf("tensor %s has ggml type %d, not F32", t.name(), t.typ())
	}
	var ne, nb [4]int64
	span := int64(4)
	for i := range 4 {
		ne[i], nb[i] = t.ne(i), t.nb(i)
		if ne[i] <= 0 {
			return nil, nil
		}
		span += (ne[i] - 1) * nb[i]
	}
	raw := make([]byte, span)
	l.tensorGet(uintptr(t), unsafe.Pointer(&raw[0]), 0, uintptr(span))
	out := make([]float32, 0, ne[0]*ne[1]*ne[2]*ne[3])
	for i3 := range ne[3] {
		for i2 := range ne[2] {
			for i1 := range ne[1] {
				off := i1*nb[1] + i2*nb[2] + i3*nb[3]
				for i0 := range ne[0] {
					o := off + i0*nb[0]
					out = append(out, math.Float32frombits(uint32(raw[o])|uint32(raw[o+1])<<8|uint32(raw[o+2])<<16|uint32(raw[o+3])<<24))
				}
			}
		}
	}
	return out, nil
}

// ptr turns an address in C memory into a pointer (the memory is not
// Go's, so the GC neither moves nor frees it).
func ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// logTail keeps llama.cpp's last log lines (errors quote them).
var (
	logMu   sync.Mutex
	logTail []string
)

// logLine is ggml_log_callback: void (*)(enum ggml_log_level level,
// const char * text, void * user_data).
func logLine(_ uintptr, text uintptr, _ uintptr) uintptr {
	s := cString(text, 4096)
	logMu.Lock()
	defer logMu.Unlock()
	logTail = append(logTail, strings.TrimRight(s, "\n"))
	if len(logTail) > 20 {
		logTail = logTail[len(logTail)-20:]
	}
	return 0
}

// lastLog returns llama.cpp's last log lines.
func lastLog() string {
	logMu.Lock()
	defer logMu.Unlock()
	return strings.Join(logTail, "\n")
}
