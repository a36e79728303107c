package llamalib

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/falsify/falsify/trace"
)

// Options are the llama.cpp settings a subject chooses; all of them are
// written into the trace's provenance.
type Options struct {
	Threads int
	// KVType is the KV cache type: f32, f16 (llama.cpp's default, also for
	// "") or q8_0.
	KVType    string
	FlashAttn bool
	// Prefill > 0 decodes the first Prefill tokens as one batch and the
	// rest one token at a time through the KV cache.
	Prefill int
	// Backend is "cpu" (also for "") or "vulkan": every layer, the
	// output layer and the KV cache offloaded to the Vulkan device
	// (VulkanDeviceEnv picks it); the token embedding lookup stays on
	// the CPU, as llama.cpp always keeps it.
	Backend string
}

// BackendName is the backend the run uses.
func (o Options) BackendName() string {
	if o.Backend == "" {
		return "cpu"
	}
	return o.Backend
}

// KVTypeName is the KV cache type the run uses.
func (o Options) KVTypeName() string {
	if o.KVType == "" {
		return "f16"
	}
	return o.KVType
}

func (o Options) ggmlKVType() (int32, error) {
	switch o.KVTypeName() {
	case "f32":
		return typeF32, nil
	case "f16":
		return typeF16, nil
	case "q8_0":
		return typeQ8_0, nil
	}
	return 0, fmt.Errorf("kv_type %q is not f32, f16 or q8_0", o.KVType)
}

// Version is what provenance names as the engine: the llama.cpp release
// node-llama-cpp packages, and ggml's own version and commit.
func Version() (string, error) {
	l, err := open()
	if err != nil {
		return "", err
	}
	return l.version(), nil
}

func (l *lib) version() string {
	return fmt.Sprintf("llama.cpp v0.4.0 (node-llama-cpp 3.21.1; ggml %s commit %s)", l.ggmlVersion(), l.ggmlCommit())
}

// capture collects, during one llama_decode, the rows of every tensor
// that maps to a slot (docs/capture-points.md).
type capture struct {
	l       *lib
	nLayer  int
	nTokens int // tokens in the running decode call
	got     map[string][]float32
	attnMM  map[uintptr]int // attn_output matmul -> layer, for a bias add after it
	err     error
	checked bool // the tensor layout was checked in this decode
	// placed records, per captured slot, the device of the buffer the
	// scheduler computed it in.
	placed map[string]string
}

// slotOf maps a graph tensor to the slot name it fills ("embed",
// "L.qkv.q", ...), or "" when it fills none.
func (c *capture) slotOf(t tensor) string {
	name := t.name()
	switch name {
	case "inp_embd", "embd": // "embd" in this build, "inp_embd" in others
		return "embed"
	case "result_norm":
		return "final_norm"
	case "result_output":
		return "logits"
	}
	if c.l.opName(t.op()) == "MUL_MAT" {
		if w := t.src(0); w != 0 {
			if l, ok := layerOf(w.name(), "blk.", ".attn_output.weight"); ok {
				c.attnMM[uintptr(t)] = l
				return strconv.Itoa(l) + ".attn_out"
			}
		}
	}
	if c.l.opName(t.op()) == "ADD" {
		if l, ok := c.attnMM[uintptr(t.src(0))]; ok {
			if b := t.src(1); b != 0 && strings.HasSuffix(b.name(), ".attn_output.bias") {
				c.attnMM[uintptr(t)] = l
				return strconv.Itoa(l) + ".attn_out"
			}
		}
	}
	base, il, ok := strings.Cut(name, "-")
	if !ok {
		return ""
	}
	l, err := strconv.Atoi(il)
	if err != nil || l < 0 || l >= c.nLayer {
		return ""
	}
	switch base {
	case "attn_norm":
		return il + ".attn_norm"
	case "Qcur", "Kcur", "Vcur":
		// Named again after RoPE; the slot is before it.
		if c.l.opName(t.op()) == "ROPE" {
			return ""
		}
		return il + ".qkv." + base
	case "ffn_norm":
		return il + ".ffn_norm"
	case "ffn_gate":
		return il + ".ffn_gate"
	case "ffn_up":
		return il + ".ffn_up"
	case "ffn_swiglu":
		return il + ".ffn_swiglu_inner"
	case "ffn_out":
		return il + ".ffn_out"
	case "l_out":
		return il + ".output"
	}
	return ""
}

// layerOf parses "blk.L.attn_output.weight".
func layerOf(name, prefix, suffix string) (int, bool) {
	mid, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	mid, ok = strings.CutSuffix(mid, suffix)
	if !ok {
		return 0, false
	}
	l, err := strconv.Atoi(mid)
	return l, err == nil
}

// The eval callback is a C function pointer; purego callbacks are a
// limited resource, so one is made per process and dispatches to the
// capture of the running decode (decodes are serialized by runMu).
var (
	runMu      sync.Mutex
	current    *capture
	evalCb     uintptr
	evalCbOnce sync.Once
)

// eval is ggml_backend_sched_eval_callback: bool (*)(struct ggml_tensor *
// t, bool ask, void * user_data). Asked first (ask true) whether t is
// wanted; then, for the wanted ones, called again once t is computed.
func eval(t uintptr, ask uintptr, _ uintptr) uintptr {
	c := current
	if c == nil || c.err != nil {
		return 0
	}
	if !c.checked {
		// The first tensor of every decode checks the struct ggml_tensor
		// offsets against ggml's own accessors.
		c.checked = true
		tt := tensor(t)
		if c.l.getName(t) != t+offName || c.l.nelements(t) != tt.ne(0)*tt.ne(1)*tt.ne(2)*tt.ne(3) {
			c.err = fmt.Errorf("struct ggml_tensor layout of this library differs from the one compiled in (name at %#x, not %#x)", c.l.getName(t)-t, offName)
			return 0
		}
	}
	slot := c.slotOf(tensor(t))
	if slot == "" {
		return 0
	}
	if ask&0xff != 0 {
		return 1
	}
	v, err := c.l.read(tensor(t))
	if err != nil {
		c.err = fmt.Errorf("%s: %w", slot, err)
		return 1
	}
	c.got[slot] = v // a later tensor of the same slot (bias added) wins
	c.placed[slot] = c.l.tensorDevice(tensor(t))
	return 1
}

// Run loads the GGUF model at path in llama.cpp (CPU), decodes tokens
// with every position's output requested, and returns the trace of every
// slot at every position, the way the engine's trace is laid out. Errors
// wrap ErrUnavailable when the library is not installed.
func Run(path string, tokens []int32, o Options) (*trace.Trace, error) {
	tr, _, err := RunPlaced(path, tokens, o)
	return tr, err
}

// RunPlaced is Run, also returning where each captured slot was
// computed: the device of the buffer the scheduler allocated the graph
// node in, read from the node itself (a Vulkan run that silently fell
// back to the CPU shows "CPU" here, whatever the settings said). A
// Vulkan run whose layers were not computed on the Vulkan device is an
// error.
func RunPlaced(path string, tokens []int32, o Options) (*trace.Trace, Placement, error) {
	l, err := open()
	if err != nil {
		return nil, nil, err
	}
	var vk *vulkanLib
	switch o.BackendName() {
	case "cpu":
	case "vulkan":
		if vk, err = l.openVulkan(); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("backend %q is not cpu or vulkan", o.Backend)
	}
	tr, pl, err := run(l, vk, path, tokens, o)
	if err != nil {
		return nil, nil, err
	}
	if vk != nil {
		for dev, slots := range pl {
			for _, s := range slots {
				if dev != vk.device.Name && s != "embed" {
					return nil, pl, fmt.Errorf("backend vulkan: slot %s was computed on %s, not on %s (placement: %s)", s, dev, vk.device, pl)
				}
			}
		}
		if len(pl[vk.device.Name]) == 0 {
			return nil, pl, fmt.Errorf("backend vulkan: nothing was computed on %s (placement: %s)", vk.device, pl)
		}
	}
	return tr, pl, nil
}

func run(l *lib, vk *vulkanLib, path string, tokens []int32, o Options) (*trace.Trace, Placement, error) {
	tr, placed, err := runSlots(l, vk, path, tokens, o)
	if err != nil {
		return nil, nil, err
	}
	pl := Placement{}
	for _, slot := range sortedKeys(placed) {
		pl[placed[slot]] = append(pl[placed[slot]], slot)
	}
	tr.Provenance.Options["placement"] = pl.String()
	return tr, pl, nil
}

func runSlots(l *lib, vk *vulkanLib, path string, tokens []int32, o Options) (*trace.Trace, map[string]string, error) {
	kv, err := o.ggmlKVType()
	if err != nil {
		return nil, nil, err
	}
	if len(tokens) == 0 {
		return nil, nil, fmt.Errorf("no tokens to run")
	}
	if o.Prefill > len(tokens) {
		return nil, nil, fmt.Errorf("prefill %d: the input has %d tokens", o.Prefill, len(tokens))
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	evalCbOnce.Do(func() { evalCb = purego.NewCallback(eval) })
	runMu.Lock()
	defer runMu.Unlock()
	// The eval callback re-enters Go on the thread that called
	// llama_decode; pinning keeps this goroutine (and current) on it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	start := time.Now()
	mp := l.modelDefaultParams()
	// The device list is explicit either way: with no list llama.cpp
	// offloads to every GPU device registered, and the Vulkan one is once
	// a Vulkan run has loaded it.
	devs := []uintptr{0}
	mp.NGPULayers = 0
	if vk != nil {
		devs = []uintptr{vk.device.dev, 0}
		mp.NGPULayers = -1 // all layers and the output layer
	}
	mp.Devices = uintptr(unsafe.Pointer(&devs[0]))
	model := l.modelLoad(path, mp)
	runtime.KeepAlive(devs)
	if model == 0 {
		return nil, nil, fmt.Errorf("llama.cpp could not load %s; its log ends:\n%s", path, lastLog())
	}
	defer l.modelFree(model)
	nLayer := int(l.modelNLayer(model))
	nVocab := int(l.vocabNTokens(l.modelGetVocab(model)))
	for i, t := range tokens {
		if t < 0 || int(t) >= nVocab {
			return nil, nil, fmt.Errorf("token %d at position %d is outside the vocabulary (%d tokens)", t, i, nVocab)
		}
	}
	cp := l.contextDefaultParams()
	n := uint32(len(tokens))
	cp.NCtx = max(n, 16)
	cp.NBatch, cp.NUbatch = max(n, 1), max(n, 1)
	cp.NSeqMax = 1
	cp.NThreads, cp.NThreadsBatch = int32(threads), int32(threads)
	cp.TypeK, cp.TypeV = kv, kv
	cp.FlashAttnType = 0 // LLAMA_FLASH_ATTN_TYPE_DISABLED
	if o.FlashAttn {
		cp.FlashAttnType = 1
	}
	cp.NoPerf = true
	// A CPU run keeps every op on the CPU; llama.cpp would otherwise move
	// big batches of host-resident weights to a GPU device it knows of.
	cp.OpOffload = vk != nil
	cp.CbEval = evalCb
	ctx := l.initFromModel(model, cp)
	if ctx == 0 {
		return nil, nil, fmt.Errorf("llama.cpp could not make a context for %s (KV %s, flash attention %v); its log ends:\n%s", path, o.KVTypeName(), o.FlashAttn, lastLog())
	}
	defer l.free(ctx)

	rows := map[string][][]float32{}
	placed := map[string]string{}
	steps := [][2]int{{0, len(tokens)}}
	if o.Prefill > 0 && o.Prefill < len(tokens) {
		steps = [][2]int{{0, o.Prefill}}
		for i := o.Prefill; i < len(tokens); i++ {
			steps = append(steps, [2]int{i, i + 1})
		}
	}
	b := l.batchInit(int32(len(tokens)), 0, 1)
	defer l.batchFree(b)
	for _, st := range steps {
		m := st[1] - st[0]
		b.NTokens = int32(m)
		tok := unsafe.Slice((*int32)(ptr(b.Token)), len(tokens))
		pos := unsafe.Slice((*int32)(ptr(b.Pos)), len(tokens))
		nseq := unsafe.Slice((*int32)(ptr(b.NSeqID)), len(tokens))
		seq := unsafe.Slice((**int32)(ptr(b.SeqID)), len(tokens))
		outp := unsafe.Slice((*int8)(ptr(b.Logits)), len(tokens))
		for i := range m {
			tok[i] = tokens[st[0]+i]
			pos[i] = int32(st[0] + i)
			nseq[i] = 1
			*seq[i] = 0
			outp[i] = 1 // every position's output, as the goldens
		}
		c := &capture{l: l, nLayer: nLayer, nTokens: m, got: map[string][]float32{}, attnMM: map[uintptr]int{}, placed: map[string]string{}}
		current = c
		rc := l.decode(ctx, b)
		current = nil
		if rc != 0 {
			return nil, nil, fmt.Errorf("llama_decode returned %d at positions %d..%d", rc, st[0], st[1]-1)
		}
		if c.err != nil {
			return nil, nil, fmt.Errorf("reading llama.cpp's tensors: %w", c.err)
		}
		for slot, d := range c.placed {
			if prev, ok := placed[slot]; ok && prev != d {
				d = prev + "+" + d
			}
			placed[slot] = d
		}
		for slot, v := range c.got {
			if len(v)%m != 0 {
				return nil, nil, fmt.Errorf("tensor for %s has %d values, not a multiple of the %d tokens decoded", slot, len(v), m)
			}
			w := len(v) / m
			for i := range m {
				rows[slot] = append(rows[slot], v[i*w:(i+1)*w])
			}
		}
	}
	tr, err := assemble(rows, tokens, nLayer)
	if err != nil {
		return nil, nil, err
	}
	tr.Provenance = trace.Provenance{
		Model: path, SHA256: fileSum(path), Format: "gguf", Arch: l.meta(model, "general.architecture"),
		Backend:       "llama.cpp " + o.BackendName(),
		Device:        l.device(vk),
		Options:       map[string]string{"kv_type": o.KVTypeName(), "flash_attn": strconv.FormatBool(o.FlashAttn), "prefill": strconv.Itoa(o.Prefill), "backend": o.BackendName()},
		Matmul:        trace.MatmulQuantized,
		Threads:       threads,
		EngineVersion: l.version(),
		Seconds:       time.Since(start).Seconds(),
		StartedAt:     start.UTC().Format(time.RFC3339),
	}
	for _, f := range l.files {
		tr.Provenance.Libraries = append(tr.Provenance.Libraries, trace.Library{Path: f.Path, SHA256: f.SHA256})
	}
	if vk != nil {
		tr.Provenance.Libraries = append(tr.Provenance.Libraries, trace.Library{Path: vk.file.Path, SHA256: vk.file.SHA256})
		tr.Provenance.Options["vulkan_device"] = vk.device.String()
		tr.Provenance.Options["n_gpu_layers"] = "all"
	}
	return tr, placed, nil
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func fileSum(path string) string {
	s, _ := sha256File(path)
	return s
}

// device names the devices the run could use: the CPU (its variant's
// description) and, for a Vulkan run, the Vulkan device first. Other
// registered devices (a Vulkan device loaded by an earlier run in this
// process) are not listed for a CPU run, which never uses them.
func (l *lib) device(vk *vulkanLib) string {
	var out []string
	if vk != nil {
		out = append(out, vk.device.String())
	}
	for i := range l.backendDevCount() {
		d := l.backendDevGet(i)
		if l.backendDevType(d) == 0 { // GGML_BACKEND_DEVICE_TYPE_CPU
			out = append(out, l.backendDevName(d)+": "+l.backendDevDescription(d))
		}
	}
	return strings.Join(out, "; ")
}

// assemble builds the trace from the captured rows: q, k and v side by
// side for qkv, and ffn_silu_gate derived from ffn_gate in float64 (llama.cpp
// fuses it away; the goldens derive it the same way).
func assemble(rows map[string][][]float32, tokens []int32, nLayer int) (*trace.Trace, error) {
	n := len(tokens)
	get := func(key string) ([][]float32, error) {
		r := rows[key]
		if len(r) != n {
			return nil, fmt.Errorf("llama.cpp's graph gave %d of %d positions for %s (the tensor names of this llama.cpp build differ from docs/capture-points.md)", len(r), n, key)
		}
		return r, nil
	}
	tr := &trace.Trace{Tokens: tokens}
	for _, g := range []struct {
		key string
		dst *trace.SlotTrace
	}{{"embed", &tr.Embed}, {"final_norm", &tr.FinalNorm}, {"logits", &tr.Logits}} {
		r, err := get(g.key)
		if err != nil {
			return nil, err
		}
		*g.dst = trace.SlotFromPositions(r)
	}
	for il := range nLayer {
		lt := trace.LayerTrace{Layer: il}
		p := strconv.Itoa(il) + "."
		for i, s := range trace.LayerSlots() {
			var r [][]float32
			var err error
			switch s {
			case trace.SlotQKV:
				var q, k, v [][]float32
				if q, err = get(p + "qkv.Qcur"); err != nil {
					return nil, err
				}
				if k, err = get(p + "qkv.Kcur"); err != nil {
					return nil, err
				}
				if v, err = get(p + "qkv.Vcur"); err != nil {
					return nil, err
				}
				r = make([][]float32, n)
				for j := range n {
					r[j] = append(append(append([]float32(nil), q[j]...), k[j]...), v[j]...)
				}
			case trace.SlotFFNSiluGate:
				g := rows[p+"ffn_gate"]
				if len(g) == 0 {
					continue // not a gated FFN: the slot stays empty
				}
				r = make([][]float32, len(g))
				for j, row := range g {
					r[j] = make([]float32, len(row))
					for e, x := range row {
						xf := float64(x)
						r[j][e] = float32(xf / (1 + math.Exp(-xf)))
					}
				}
			case trace.SlotFFNGate, trace.SlotFFNSwigluInner:
				if len(rows[p+string(s)]) == 0 {
					continue
				}
				if r, err = get(p + string(s)); err != nil {
					return nil, err
				}
			default:
				if r, err = get(p + string(s)); err != nil {
					return nil, err
				}
			}
			lt.Slots[i] = trace.SlotFromPositions(r)
		}
		tr.Layers = append(tr.Layers, lt)
	}
	return tr, nil
}

// meta reads a string metadata value of the model ("" when absent).
func (l *lib) meta(model uintptr, key string) string {
	buf := make([]byte, 256)
	n := l.modelMetaValStr(model, key, unsafe.Pointer(&buf[0]), uintptr(len(buf)))
	if n < 0 || int(n) >= len(buf) {
		return ""
	}
	return string(buf[:n])
}
