package ggmlref

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ErrUnavailable is wrapped by Open when the library directory or a library
// in it is missing, so tests can skip with the reason.
var ErrUnavailable = errors.New("ggml reference library unavailable")

// ErrNoKernel is returned when ggml has no function for the requested type
// (a NULL pointer in its type traits).
var ErrNoKernel = errors.New("ggml has no such kernel")

// Dirs lists where Open looks for the libraries, in order: FALSIFY_GGML_DIR
// alone when it is set; otherwise scripts/fetch-ggml.sh's cache directory,
// then the bins directory of the node-llama-cpp install that
// scripts/fetch-llamacpp.sh makes (FALSIFY_NODE_LLAMA_CPP or its default).
func Dirs() []string {
	if d := os.Getenv("FALSIFY_GGML_DIR"); d != "" {
		return []string{d}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	nlc := os.Getenv("FALSIFY_NODE_LLAMA_CPP")
	if nlc == "" {
		nlc = filepath.Join(home, ".cache", "falsify", "node-llama-cpp")
	}
	return []string{
		filepath.Join(home, ".cache", "falsify", "ggml", "v0.4.0"),
		filepath.Join(nlc, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64"),
	}
}

// findDir returns the first of Dirs holding libggml-base.so.
func findDir() (string, error) {
	dirs := Dirs()
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "libggml-base.so")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: libggml-base.so not found in %s (run scripts/fetch-ggml.sh or set FALSIFY_GGML_DIR)", ErrUnavailable, strings.Join(dirs, ", "))
}

// cTypeTraits mirrors struct ggml_type_traits (ggml.h).
type cTypeTraits struct {
	typeName           *byte   // const char *
	blckSize           int64   // int64_t
	blckSizeInterleave int64   // int64_t
	typeSize           uintptr // size_t
	isQuantized        bool    // bool
	_                  [7]byte // padding
	toFloat            uintptr // ggml_to_float_t
	fromFloatRef       uintptr // ggml_from_float_t
}

// cTypeTraitsCPU mirrors struct ggml_type_traits_cpu (ggml-cpu.h).
type cTypeTraitsCPU struct {
	fromFloat  uintptr // ggml_from_float_t
	vecDot     uintptr // ggml_vec_dot_t
	vecDotType int32   // enum ggml_type
	_          [4]byte // padding
	nrows      int64   // int64_t
}

func init() {
	// The sizes of the structs as ggml.h lays them out on LP64.
	if unsafe.Sizeof(cTypeTraits{}) != 56 || unsafe.Sizeof(cTypeTraitsCPU{}) != 32 {
		panic("ggmlref: mirrored ggml struct sizes are wrong for this platform")
	}
}

// Lib is ggml's base library plus one CPU backend variant.
type Lib struct {
	Dir     string // directory the libraries were loaded from
	Variant string // CPU variant, e.g. "zen4" for libggml-cpu-zen4.so
	Version string // ggml_version()
	Commit  string // ggml_commit()

	base, cpu uintptr

	typeTraits    func(t int32) *cTypeTraits
	typeTraitsCPU func(t int32) *cTypeTraitsCPU
	typeName      func(t int32) string
	blckSize      func(t int32) int64
	typeSize      func(t int32) uintptr

	fp32ToFP16 func(float32) uint16
	fp16ToFP32 func(uint16) float32
	fp32ToBF16 func(float32) uint16

	graphOnce sync.Once
	graph     *graphAPI // bindGraph
	graphErr  error

	mu      sync.Mutex
	toFloat map[uintptr]func(x, y unsafe.Pointer, k int64)
	from    map[uintptr]func(x, y unsafe.Pointer, k int64)
	dot     map[uintptr]func(n int32, s unsafe.Pointer, bs uintptr, x unsafe.Pointer, bx uintptr, y unsafe.Pointer, by uintptr, nrc int32)
}

var (
	openMu sync.Mutex
	opened = map[string]*Lib{}
)

// Open loads the libraries from the first of Dirs that has them, with the
// CPU variant ggml's backend loader would choose on this machine: every
// libggml-cpu-*.so is asked for its ggml_backend_score and the highest
// non-zero score wins.
func Open() (*Lib, error) {
	return OpenVariant("")
}

// OpenVariant loads the libraries from the first of Dirs that has them,
// with the named CPU variant ("x64", "haswell", "zen4", ...), or the best
// one for "" (see Open). Each variant is loaded once per process.
func OpenVariant(variant string) (*Lib, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("%w: the prebuilt libraries are linux-x64 only", ErrUnavailable)
	}
	dir, err := findDir()
	if err != nil {
		return nil, err
	}

	openMu.Lock()
	defer openMu.Unlock()
	if variant == "" {
		v, err := bestVariant(dir)
		if err != nil {
			return nil, err
		}
		variant = v
	}
	if l, ok := opened[variant]; ok {
		return l, nil
	}
	l, err := load(dir, variant)
	if err != nil {
		return nil, err
	}
	opened[variant] = l
	return l, nil
}

// bestVariant scores every CPU variant in dir as ggml's backend loader does.
func bestVariant(dir string) (string, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "libggml-cpu-*.so"))
	if len(paths) == 0 {
		return "", fmt.Errorf("%w: no libggml-cpu-*.so in %s", ErrUnavailable, dir)
	}
	// The variants need libggml-base.so resolvable; load it globally first.
	if _, err := purego.Dlopen(filepath.Join(dir, "libggml-base.so"), purego.RTLD_NOW|purego.RTLD_GLOBAL); err != nil {
		return "", fmt.Errorf("%w: dlopen libggml-base.so: %v", ErrUnavailable, err)
	}
	best, bestScore := "", int32(0)
	for _, p := range paths {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			continue
		}
		sym, err := purego.Dlsym(h, "ggml_backend_score")
		if err == nil {
			var score func() int32
			purego.RegisterFunc(&score, sym)
			if s := score(); s > bestScore {
				bestScore = s
				best = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "libggml-cpu-"), ".so")
			}
		}
		// Loaded variants stay mapped: unloading a C++ library with static
		// state mid-process is riskier than the memory it holds.
	}
	if best == "" {
		return "", fmt.Errorf("%w: no CPU variant in %s scores above zero on this machine", ErrUnavailable, dir)
	}
	return best, nil
}

func load(dir, variant string) (*Lib, error) {
	l := &Lib{
		Dir:     dir,
		Variant: variant,
		toFloat: map[uintptr]func(x, y unsafe.Pointer, k int64){},
		from:    map[uintptr]func(x, y unsafe.Pointer, k int64){},
		dot:     map[uintptr]func(int32, unsafe.Pointer, uintptr, unsafe.Pointer, uintptr, unsafe.Pointer, uintptr, int32){},
	}
	var err error
	l.base, err = purego.Dlopen(filepath.Join(dir, "libggml-base.so"), purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("%w: dlopen libggml-base.so: %v", ErrUnavailable, err)
	}
	cpuPath := filepath.Join(dir, "libggml-cpu-"+variant+".so")
	if _, err := os.Stat(cpuPath); err != nil {
		return nil, fmt.Errorf("%w: %s not found", ErrUnavailable, cpuPath)
	}
	l.cpu, err = purego.Dlopen(cpuPath, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("%w: dlopen %s: %v", ErrUnavailable, cpuPath, err)
	}
	if err := l.bind(); err != nil {
		return nil, fmt.Errorf("ggmlref: %s: %w", cpuPath, err)
	}
	if err := l.checkLayout(); err != nil {
		return nil, fmt.Errorf("ggmlref: %s: struct layout check: %w", dir, err)
	}
	return l, nil
}

// bind resolves the functions every call needs.
func (l *Lib) bind() error {
	type binding struct {
		handle uintptr
		name   string
		fptr   any
	}
	var version, commit func() string
	var cpuInit func()
	for _, b := range []binding{
		{l.base, "ggml_get_type_traits", &l.typeTraits},
		{l.base, "ggml_type_name", &l.typeName},
		{l.base, "ggml_blck_size", &l.blckSize},
		{l.base, "ggml_type_size", &l.typeSize},
		{l.base, "ggml_version", &version},
		{l.base, "ggml_commit", &commit},
		{l.base, "ggml_fp32_to_fp16", &l.fp32ToFP16},
		{l.base, "ggml_fp16_to_fp32", &l.fp16ToFP32},
		{l.base, "ggml_fp32_to_bf16", &l.fp32ToBF16},
		{l.cpu, "ggml_get_type_traits_cpu", &l.typeTraitsCPU},
		{l.cpu, "ggml_cpu_init", &cpuInit},
	} {
		sym, err := purego.Dlsym(b.handle, b.name)
		if err != nil {
			return fmt.Errorf("symbol %s: %w", b.name, err)
		}
		purego.RegisterFunc(b.fptr, sym)
	}
	// ggml_cpu_init fills the CPU backend's conversion tables; llama.cpp
	// calls it before any kernel runs, and so do we.
	cpuInit()
	l.Version, l.Commit = version(), commit()
	return nil
}

// checkLayout verifies the mirrored structs field by field against ggml's
// own accessors and exported kernels.
func (l *Lib) checkLayout() error {
	for _, tc := range []struct {
		id                int32
		name              string
		blck, size        int64
		quantized         bool
		toFloat, fromRef  string
		fromCPU, dot      string
		vecDotType, nrows int64
	}{
		{2, "q4_0", 32, 18, true, "dequantize_row_q4_0", "quantize_row_q4_0_ref", "quantize_row_q4_0", "ggml_vec_dot_q4_0_q8_0", 8, 1},
		{12, "q4_K", 256, 144, true, "dequantize_row_q4_K", "quantize_row_q4_K_ref", "quantize_row_q4_K", "ggml_vec_dot_q4_K_q8_K", 15, 1},
		{0, "f32", 1, 4, false, "", "", "", "ggml_vec_dot_f32", 0, 1},
	} {
		tt := l.typeTraits(tc.id)
		if got := cString(tt.typeName); got != tc.name || got != l.typeName(tc.id) {
			return fmt.Errorf("type %d: type_name %q, ggml_type_name %q, want %q", tc.id, got, l.typeName(tc.id), tc.name)
		}
		if tt.blckSize != tc.blck || tt.blckSize != l.blckSize(tc.id) {
			return fmt.Errorf("type %s: blck_size %d, want %d", tc.name, tt.blckSize, tc.blck)
		}
		if int64(tt.typeSize) != tc.size || tt.typeSize != l.typeSize(tc.id) {
			return fmt.Errorf("type %s: type_size %d, want %d", tc.name, tt.typeSize, tc.size)
		}
		if tt.isQuantized != tc.quantized {
			return fmt.Errorf("type %s: is_quantized %v, want %v", tc.name, tt.isQuantized, tc.quantized)
		}
		if err := l.sameSymbol(l.base, tc.toFloat, tt.toFloat, tc.name+" to_float"); err != nil {
			return err
		}
		if err := l.sameSymbol(l.base, tc.fromRef, tt.fromFloatRef, tc.name+" from_float_ref"); err != nil {
			return err
		}
		ct := l.typeTraitsCPU(tc.id)
		if err := l.sameSymbol(l.cpu, tc.fromCPU, ct.fromFloat, tc.name+" cpu from_float"); err != nil {
			return err
		}
		if err := l.sameSymbol(l.cpu, tc.dot, ct.vecDot, tc.name+" vec_dot"); err != nil {
			return err
		}
		if int64(ct.vecDotType) != tc.vecDotType || ct.nrows != tc.nrows {
			return fmt.Errorf("type %s: vec_dot_type %d nrows %d, want %d and %d", tc.name, ct.vecDotType, ct.nrows, tc.vecDotType, tc.nrows)
		}
	}
	return nil
}

// sameSymbol checks that ptr is the address of the exported symbol name
// (skipped when name is "").
func (l *Lib) sameSymbol(handle uintptr, name string, ptr uintptr, field string) error {
	if name == "" {
		return nil
	}
	sym, err := purego.Dlsym(handle, name)
	if err != nil {
		return fmt.Errorf("%s: symbol %s: %w", field, name, err)
	}
	if sym != ptr {
		return fmt.Errorf("%s: pointer %#x is not %s (%#x)", field, ptr, name, sym)
	}
	return nil
}

func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
	}
	return string(b)
}

// blockInfo returns ggml's block and byte size of type t.
func (l *Lib) blockInfo(t int32) (blck, size int64) {
	tt := l.typeTraits(t)
	return tt.blckSize, int64(tt.typeSize)
}

func (l *Lib) rowBytes(t int32, n int) (int, error) {
	blck, size := l.blockInfo(t)
	if blck <= 0 || n%int(blck) != 0 {
		return 0, fmt.Errorf("ggmlref: %d elements of type %d is not a whole number of %d-element blocks", n, t, blck)
	}
	return n / int(blck) * int(size), nil
}

func (l *Lib) convFunc(cache map[uintptr]func(x, y unsafe.Pointer, k int64), ptr uintptr) func(x, y unsafe.Pointer, k int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := cache[ptr]
	if !ok {
		purego.RegisterFunc(&f, ptr)
		cache[ptr] = f
	}
	return f
}

// orSymbol returns ptr, or when it is NULL the base library's exported
// function name (ggml leaves some table entries empty, e.g. Q8_K's to_float,
// while still exporting dequantize_row_q8_K), or 0.
func (l *Lib) orSymbol(ptr uintptr, name string) uintptr {
	if ptr != 0 {
		return ptr
	}
	sym, err := purego.Dlsym(l.base, name)
	if err != nil {
		return 0
	}
	return sym
}

// Dequantize decodes n elements of type t from src with ggml's to_float, or
// where that table entry is empty with the exported dequantize_row_<type>.
func (l *Lib) Dequantize(t uint32, src []byte, n int) ([]float32, error) {
	name := l.typeName(int32(t))
	ptr := l.orSymbol(l.typeTraits(int32(t)).toFloat, "dequantize_row_"+name)
	if ptr == 0 {
		return nil, fmt.Errorf("%w: to_float of %s", ErrNoKernel, name)
	}
	want, err := l.rowBytes(int32(t), n)
	if err != nil {
		return nil, err
	}
	if len(src) != want {
		return nil, fmt.Errorf("ggmlref: %d elements of %s need %d bytes, got %d", n, l.typeName(int32(t)), want, len(src))
	}
	dst := make([]float32, n)
	if n == 0 {
		return dst, nil
	}
	l.convFunc(l.toFloat, ptr)(unsafe.Pointer(&src[0]), unsafe.Pointer(&dst[0]), int64(n))
	runtime.KeepAlive(src)
	return dst, nil
}

// QuantizeRef encodes src as type t with ggml's reference quantizer
// (type traits from_float_ref, e.g. quantize_row_q8_0_ref; where that table
// entry is empty, as for Q8_K, the exported quantize_row_<type>_ref). The
// output buffer starts zeroed.
func (l *Lib) QuantizeRef(t uint32, src []float32) ([]byte, error) {
	name := l.typeName(int32(t))
	return l.quantize(t, l.orSymbol(l.typeTraits(int32(t)).fromFloatRef, "quantize_row_"+name+"_ref"), "from_float_ref", src)
}

// Quantize encodes src as type t with the CPU backend's quantizer (CPU
// type traits from_float: the SIMD code llama.cpp runs on activations).
// The output buffer starts zeroed.
func (l *Lib) Quantize(t uint32, src []float32) ([]byte, error) {
	return l.quantize(t, l.typeTraitsCPU(int32(t)).fromFloat, "cpu from_float", src)
}

func (l *Lib) quantize(t uint32, ptr uintptr, what string, src []float32) ([]byte, error) {
	if ptr == 0 {
		return nil, fmt.Errorf("%w: %s of %s", ErrNoKernel, what, l.typeName(int32(t)))
	}
	size, err := l.rowBytes(int32(t), len(src))
	if err != nil {
		return nil, err
	}
	dst := make([]byte, size)
	if len(src) == 0 {
		return dst, nil
	}
	l.convFunc(l.from, ptr)(unsafe.Pointer(&src[0]), unsafe.Pointer(&dst[0]), int64(len(src)))
	runtime.KeepAlive(src)
	return dst, nil
}

// VecDotType is the CPU backend's vec_dot_type for weight type t.
func (l *Lib) VecDotType(t uint32) uint32 {
	return uint32(l.typeTraitsCPU(int32(t)).vecDotType)
}

// VecDot is the CPU backend's vec_dot for weight type t: the dot product
// of n elements of w (type t) and x (type VecDotType(t)).
func (l *Lib) VecDot(t uint32, n int, w, x []byte) (float32, error) {
	return l.callDot(l.typeTraitsCPU(int32(t)).vecDot, l.typeName(int32(t))+" vec_dot", t, n, w, x)
}

// VecDotSymbol calls the exported dot kernel name of the loaded CPU
// variant (for example "ggml_vec_dot_q4_K_q8_K_generic", ggml's scalar
// formula) for weight type t.
func (l *Lib) VecDotSymbol(name string, t uint32, n int, w, x []byte) (float32, error) {
	sym, err := purego.Dlsym(l.cpu, name)
	if err != nil {
		return 0, fmt.Errorf("%w: %s in libggml-cpu-%s.so: %v", ErrNoKernel, name, l.Variant, err)
	}
	return l.callDot(sym, name, t, n, w, x)
}

func (l *Lib) callDot(ptr uintptr, what string, t uint32, n int, w, x []byte) (float32, error) {
	if ptr == 0 {
		return 0, fmt.Errorf("%w: %s", ErrNoKernel, what)
	}
	wantW, err := l.rowBytes(int32(t), n)
	if err != nil {
		return 0, err
	}
	wantX, err := l.rowBytes(int32(l.VecDotType(t)), n)
	if err != nil {
		return 0, err
	}
	if len(w) != wantW || len(x) != wantX || n == 0 {
		return 0, fmt.Errorf("ggmlref: %s of %d elements needs %d and %d bytes, got %d and %d", what, n, wantW, wantX, len(w), len(x))
	}
	l.mu.Lock()
	f, ok := l.dot[ptr]
	if !ok {
		purego.RegisterFunc(&f, ptr)
		l.dot[ptr] = f
	}
	l.mu.Unlock()
	var s float32
	f(int32(n), unsafe.Pointer(&s), 0, unsafe.Pointer(&w[0]), 0, unsafe.Pointer(&x[0]), 0, 1)
	runtime.KeepAlive(w)
	runtime.KeepAlive(x)
	return s, nil
}

// FP32ToFP16 is ggml_fp32_to_fp16 (ggml's software conversion, the one
// its reference quantizers use).
func (l *Lib) FP32ToFP16(f float32) uint16 { return l.fp32ToFP16(f) }

// FP16ToFP32 is ggml_fp16_to_fp32.
func (l *Lib) FP16ToFP32(h uint16) float32 { return l.fp16ToFP32(h) }

// FP32ToBF16 is ggml_fp32_to_bf16.
func (l *Lib) FP32ToBF16(f float32) uint16 { return l.fp32ToBF16(f) }
