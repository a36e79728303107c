package harness

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/builtin"
)

// subjectRun is the outcome of running one subject: a trace, or the reason
// there is none. Exactly one of trace, skip and err is set.
type subjectRun struct {
	name  string
	trace *engine.Trace
	model *engine.Model // nil for goldens
	prov  evidence.Provenance
	opts  engine.Options // what the run used (for gates that re-run)
	skip  string         // the subject cannot run here (e.g. no GPU)
	err   error          // the harness could not measure
	// sample forces the sample this subject reports (Subject.Sample).
	sample engine.Sample
}

// runKey identifies a distinct run: subjects that resolve to the same
// model and options share one.
type runKey struct {
	path    string
	golden  bool
	backend string
	matmul  engine.MatmulMode
	threads int
	traced  bool
	input   string
}

// resolvedSubject is a subject with its model path settled.
type resolvedSubject struct {
	spec          *contracts.Subject
	path          string // model or golden file to read
	display       string // what evidence shows (builtin:NAME or the path)
	convertedFrom string
}

// resolve expands a subject's model (or golden) reference: --set
// overrides, ${VAR:-default} from the environment, builtin: names, and
// `from` conversion to APR when the model expands to nothing.
func (r *Runner) resolve(ctx context.Context, c *contracts.Contract, s *contracts.Subject, seen []string) (*resolvedSubject, error) {
	if slices.Contains(seen, s.Name) {
		return nil, fmt.Errorf("`from` chain loops through %s", strings.Join(seen, " -> "))
	}
	rs := &resolvedSubject{spec: s}
	ref := ""
	var err error
	switch {
	case r.opts.Set[s.Name] != "":
		ref = r.opts.Set[s.Name]
	case s.IsGolden():
		ref, err = s.ResolveGolden(r.lookup)
	default:
		ref, err = s.ResolveModel(r.lookup)
	}
	if err != nil {
		return nil, err
	}
	if ref == "" && s.From != "" {
		src, ok := c.Subject(s.From)
		if !ok {
			return nil, fmt.Errorf("from: no subject %q", s.From)
		}
		srcRes, err := r.resolve(ctx, c, src, append(seen, s.Name))
		if err != nil {
			return nil, err
		}
		out, err := r.converted(srcRes.path)
		if err != nil {
			return nil, fmt.Errorf("converting %s to APR: %w", srcRes.display, err)
		}
		rs.path, rs.display, rs.convertedFrom = out, out, srcRes.display
		return rs, nil
	}
	if ref == "" {
		return nil, fmt.Errorf("model is empty (set the variable its contract names, or --set %s=PATH)", s.Name)
	}
	rs.display = ref
	if name, ok := strings.CutPrefix(ref, "builtin:"); ok {
		if rs.path, err = builtin.Path(name); err != nil {
			return nil, fmt.Errorf("%w", err)
		}
		return rs, nil
	}
	if _, err := os.Stat(ref); err != nil {
		return nil, fmt.Errorf("model file %s: %w", ref, errors.Unwrap(err))
	}
	rs.path = ref
	return rs, nil
}

// converted returns the APR conversion of a GGUF file, made once per run
// (cached in the work directory under the source's size and mtime).
func (r *Runner) converted(src string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(r.opts.WorkDir, "converted")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	out := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.apr", base, st.Size(), st.ModTime().UnixNano()))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	if err := convertGGUFToAPR(context.Background(), src, tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return out, os.Rename(tmp, out)
}

// subject runs (or fetches the cached run of) the named subject.
func (r *Runner) subject(ctx context.Context, c *contracts.Contract, name string) *subjectRun {
	s, ok := c.Subject(name)
	if !ok {
		return &subjectRun{name: name, err: fmt.Errorf("contract has no subject %q", name)}
	}
	run := &subjectRun{name: name, sample: engine.Sample(s.Sample)}
	if err := engine.CheckBackend(string(s.Backend)); err != nil {
		// Not in this build: SKIP before the model is resolved or loaded.
		run.skip = fmt.Sprintf("subject %q: %v", name, err)
		return run
	}
	rs, err := r.resolve(ctx, c, s, nil)
	if err != nil {
		run.err = err
		return run
	}
	tokens, err := r.inputTokens(c, rs)
	if err != nil {
		run.err = err
		return run
	}
	opts := engine.Options{Backend: string(s.Backend), Matmul: engine.MatmulMode(s.Matmul), Threads: s.Threads, AllPositions: true}
	if opts.Matmul == "" {
		opts.Matmul = engine.MatmulQuantized
	}
	if opts.Threads == 0 {
		opts.Threads = r.opts.Threads
	}
	if opts.Threads <= 0 {
		opts.Threads = DefaultThreads()
	}
	traced := s.Trace || s.IsGolden()
	key := runKey{path: rs.path, golden: s.IsGolden(), backend: opts.Backend, matmul: opts.Matmul, threads: opts.Threads, traced: traced, input: fmt.Sprint(tokens)}
	shared := r.cachedRun(key, func() *subjectRun {
		if s.IsGolden() {
			return r.runGolden(rs, tokens)
		}
		return r.runModel(ctx, rs, tokens, opts, traced)
	})
	run.trace, run.model, run.prov, run.opts, run.skip, run.err = shared.trace, shared.model, shared.prov, shared.opts, shared.skip, shared.err
	run.prov.Subject = name
	run.prov.Sample = string(s.Sample)
	run.prov.ConvertedFrom = rs.convertedFrom
	if rs.display != "" {
		run.prov.Model = rs.display
	}
	return run
}

// cachedRun returns the run for key, computing it once per Runner.
func (r *Runner) cachedRun(key runKey, compute func() *subjectRun) *subjectRun {
	r.mu.Lock()
	if run, ok := r.runs[key]; ok {
		r.mu.Unlock()
		return run
	}
	r.mu.Unlock()
	run := compute()
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.runs[key]; ok {
		return prev
	}
	r.runs[key] = run
	return run
}

// inputTokens returns the contract input's tokens for a subject: the
// listed tokens, or the prompt through the subject's tokenizer (checked
// against expect_tokens). Goldens are checked against their own tokens.
func (r *Runner) inputTokens(c *contracts.Contract, rs *resolvedSubject) ([]int32, error) {
	in := c.Input
	if in == nil {
		return nil, errors.New("contract has no input")
	}
	if rs.spec.IsGolden() {
		if len(in.Tokens) > 0 {
			return toInt32(in.Tokens), nil
		}
		return toInt32(in.ExpectTokens), nil // checked against the golden's own tokens in runGolden
	}
	if len(in.Tokens) > 0 {
		return toInt32(in.Tokens), nil
	}
	m, err := r.model(rs.path)
	if err != nil {
		return nil, err
	}
	tokens, err := m.Tokenize(in.Prompt)
	if err != nil {
		return nil, err
	}
	if len(in.ExpectTokens) > 0 && !slices.Equal(tokens, toInt32(in.ExpectTokens)) {
		return nil, fmt.Errorf("the prompt %q tokenizes to %v, the contract expects %v", in.Prompt, tokens, in.ExpectTokens)
	}
	return tokens, nil
}

func toInt32(v []int) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// model loads a model once per Runner.
func (r *Runner) model(path string) (*engine.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.models[path]; ok {
		return m, nil
	}
	m, err := engine.Load(path)
	if err != nil {
		return nil, err
	}
	r.models[path] = m
	return m, nil
}

func (r *Runner) runModel(ctx context.Context, rs *resolvedSubject, tokens []int32, opts engine.Options, traced bool) *subjectRun {
	run := &subjectRun{opts: opts}
	if err := ctx.Err(); err != nil {
		run.err = err
		return run
	}
	m, err := r.model(rs.path)
	if err != nil {
		run.err = err
		return run
	}
	run.model = m
	mode := "traced"
	if !traced {
		mode = "untraced"
	}
	r.logf("running %s (%s, %s matmul, %s, %d tokens)", rs.display, m.Format, opts.Matmul, mode, len(tokens))
	start := time.Now()
	if traced {
		run.trace, err = engine.Run(m, tokens, opts)
	} else {
		run.trace, err = untracedRun(m, tokens, opts)
	}
	if errors.Is(err, engine.ErrBackendUnavailable) {
		run.skip = err.Error() // e.g. a GPU backend with no device here
		return run
	}
	if err != nil {
		run.err = err
		return run
	}
	sha, _ := m.SHA256()
	run.prov = evidence.Provenance{Model: rs.display, SHA256: sha, Format: m.Format, Backend: run.trace.Provenance.Backend,
		Matmul: string(opts.Matmul), Threads: run.trace.Provenance.Threads, EngineVersion: engine.Version,
		Duration: time.Since(start)}
	return run
}

// untracedRun runs without capture hooks and records only the last
// position's logits.
func untracedRun(m *engine.Model, tokens []int32, opts engine.Options) (*engine.Trace, error) {
	opts.Trace = false
	s, err := engine.NewSession(m, opts, len(tokens), len(tokens))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Forward(tokens, nil); err != nil {
		return nil, err
	}
	logits := append(engine.Vector(nil), s.Logits(len(tokens))...)
	tr := &engine.Trace{Tokens: tokens, Logits: engine.SlotTrace{Last: logits, LastToken: engine.ComputeStats(logits)}}
	tr.Provenance = engine.Provenance{Model: m.Path, Format: m.Format, Backend: s.Backend().Name(), Device: s.Backend().Device(),
		Matmul: string(opts.Matmul), Threads: opts.Threads, EngineVersion: engine.Version}
	return tr, nil
}

// goldenFile is the shape of fixtures golden/forward/*.json.gz.
type goldenFile struct {
	Reference struct {
		Engine  string `json:"engine"`
		Version string `json:"version"`
	} `json:"reference"`
	Model struct {
		File   string `json:"file"`
		SHA256 string `json:"sha256"`
	} `json:"model"`
	Tokens    []int32                  `json:"tokens"`
	Embed     [][]float32              `json:"embed"`
	Layers    []map[string][][]float32 `json:"layers"`
	FinalNorm [][]float32              `json:"final_norm"`
	Logits    [][]float32              `json:"logits"`
}

// runGolden reads a llama.cpp golden into a trace with every position.
func (r *Runner) runGolden(rs *resolvedSubject, tokens []int32) *subjectRun {
	run := &subjectRun{}
	tr, g, err := LoadGolden(rs.path)
	if err != nil {
		run.err = err
		return run
	}
	if len(tokens) > 0 && !slices.Equal(tokens, tr.Tokens) {
		run.err = fmt.Errorf("golden %s was made for tokens %v, the contract's input is %v", rs.display, tr.Tokens, tokens)
		return run
	}
	run.trace = tr
	run.prov = evidence.Provenance{Model: rs.display, SHA256: g.Model.SHA256, Format: "golden",
		Backend: g.Reference.Engine + " " + g.Reference.Version}
	return run
}

// LoadGolden reads a llama.cpp golden forward file (JSON, gzip-compressed
// or not: fixtures golden/forward) as a trace holding every position of every slot. The
// SHA256 in the returned file header is that of the model it was made from.
func LoadGolden(path string) (*engine.Trace, *goldenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("golden: %w", err)
	}
	defer f.Close()
	// Goldens are gzip-compressed JSON as the fixtures ship them; plain
	// JSON is accepted too.
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("golden %s: %w", path, err)
		}
		r = zr
	}
	var g goldenFile
	if err := json.NewDecoder(r).Decode(&g); err != nil {
		return nil, nil, fmt.Errorf("golden %s: %w", path, err)
	}
	if len(g.Tokens) == 0 || len(g.Layers) == 0 {
		return nil, nil, fmt.Errorf("golden %s: no tokens or layers", path)
	}
	tr := &engine.Trace{Tokens: g.Tokens, Embed: engine.SlotFromPositions(g.Embed),
		FinalNorm: engine.SlotFromPositions(g.FinalNorm), Logits: engine.SlotFromPositions(g.Logits)}
	for l, slots := range g.Layers {
		lt := engine.LayerTrace{Layer: l}
		for s := range engine.NumSlots {
			rows, ok := slots[s.String()]
			if !ok {
				return nil, nil, fmt.Errorf("golden %s: layer %d has no slot %s", path, l, s)
			}
			if len(rows) != len(g.Tokens) {
				return nil, nil, fmt.Errorf("golden %s: layer %d slot %s has %d positions for %d tokens", path, l, s, len(rows), len(g.Tokens))
			}
			lt.Slots[s] = engine.SlotFromPositions(rows)
		}
		tr.Layers = append(tr.Layers, lt)
	}
	tr.Provenance = engine.Provenance{Model: g.Model.File, SHA256: g.Model.SHA256, Format: "golden", Backend: g.Reference.Engine}
	return tr, &g, nil
}
