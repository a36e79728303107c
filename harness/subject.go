package harness

import (
	"context"
	"errors"
	"fmt"
	"github.com/falsify/falsify/internal/progress"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/builtin"
	"github.com/falsify/falsify/trace"
)

// subjectRun is the outcome of running one subject: a trace, or the reason
// there is none. Exactly one of trace, skip and err is set.
type subjectRun struct {
	name  string
	trace *trace.Trace
	model *engine.Model // nil for goldens
	prov  evidence.SubjectProvenance
	opts  engine.Options // what the run used (for gates that re-run)
	skip  string         // the subject cannot run here (e.g. no GPU)
	err   error          // the harness could not measure
	// unavailable is, with skip, the engine backend that is missing here
	// (evidence GateRecord.UnavailableBackend).
	unavailable string
	// sample forces the sample this subject reports (Subject.Sample).
	sample trace.Sample
}

// runKey identifies a distinct run: subjects that resolve to the same
// model and options share one.
type runKey struct {
	path    string
	kind    contracts.SubjectKind
	backend string
	matmul  trace.MatmulMode
	threads int
	traced  bool
	// allLogits: engine Options.AllLogits (traced engine runs only).
	allLogits bool
	input     string
	// llama.cpp options and the decode split change the numbers too.
	kvType    string
	flashAttn bool
	prefill   int
}

// resolvedSubject is a subject with its model path settled.
type resolvedSubject struct {
	spec          *contracts.Subject
	path          string // model or golden file to read
	display       string // what evidence shows (builtin:NAME or the path)
	convertedFrom string
	prompt        string // the contract's prompt (command subjects pass it on)
}

// resolve expands a subject's model (or golden) reference: --set
// overrides, ${VAR:-default} from the environment, builtin: names, and
// `from` conversion to APR when the model expands to nothing.
func (r *Runner) resolve(ctx context.Context, c *contracts.Contract, s *contracts.Subject, seen []string) (*resolvedSubject, error) {
	if slices.Contains(seen, s.Name) {
		return nil, fmt.Errorf("`from` chain loops through %s", strings.Join(seen, " -> "))
	}
	rs := &resolvedSubject{spec: s}
	if c.Input != nil {
		rs.prompt = c.Input.Prompt
	}
	ref := ""
	var err error
	switch {
	case s.Kind == contracts.SubjectCommand:
		// No file: the run key is the argv.
		rs.path = strings.Join(s.Command, "\x00")
		rs.display = "command: " + strings.Join(s.Command, " ")
		return rs, nil
	case r.opts.Set[s.Name] != "":
		ref = r.opts.Set[s.Name]
	case s.Kind == contracts.SubjectTraceFile:
		ref, err = contracts.Expand(s.TraceFile, r.lookup)
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
		out, err := r.converted(ctx, srcRes.path)
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
		what := "model file"
		switch s.Kind {
		case contracts.SubjectGolden:
			what = "golden file"
		case contracts.SubjectTraceFile:
			what = "trace file"
		}
		if vars := r.setVars(s); len(vars) > 0 && r.opts.Set[s.Name] == "" {
			// The path came from the environment: name the variables,
			// never copy their values into a reason that evidence keeps.
			return nil, fmt.Errorf("%s from %s (value not shown: it comes from the environment): %w", what, strings.Join(vars, ", "), errors.Unwrap(err))
		}
		return nil, fmt.Errorf("%s %s: %w", what, ref, errors.Unwrap(err))
	}
	rs.path = ref
	return rs, nil
}

// setVars lists, as ${NAME}, the variables of s's model or golden
// reference that are set (non-empty) in the environment.
func (r *Runner) setVars(s *contracts.Subject) []string {
	ref := s.Model
	if s.IsGolden() {
		ref = s.Golden
	}
	var out []string
	for _, name := range contracts.Vars(ref) {
		if v, ok := r.lookup(name); ok && v != "" {
			out = append(out, "${"+name+"}")
		}
	}
	return out
}

// subject runs (or fetches the cached run of) the named subject.
func (r *Runner) subject(ctx context.Context, c *contracts.Contract, name string) *subjectRun {
	s, ok := c.Subject(name)
	if !ok {
		return &subjectRun{name: name, err: fmt.Errorf("contract has no subject %q", name)}
	}
	run := &subjectRun{name: name, sample: s.Sample}
	if err := engine.CheckBackend(string(s.Backend)); err != nil && s.Kind == contracts.SubjectModel {
		// Not in this build: SKIP before the model is resolved or loaded.
		// (Other runtimes, such as llama.cpp, check their own backends.)
		run.skip = fmt.Sprintf("subject %q: %v", name, err)
		run.unavailable = engineBackend(s)
		if rs, err := r.resolve(ctx, c, s, nil); err == nil {
			run.prov.Model = rs.display // which model would have run, for the evidence's models column
		}
		return run
	}
	src, ok := sources[s.Kind]
	if !ok {
		run.err = fmt.Errorf("subject %q: kind %q has no trace source", name, s.Kind)
		return run
	}
	rs, err := r.resolve(ctx, c, s, nil)
	if err != nil {
		run.err = err
		return run
	}
	if s.SHA256 != "" && s.Kind != contracts.SubjectCommand {
		sum, err := r.fileHash(ctx, rs.path, "")
		switch {
		case err != nil:
			run.err = fmt.Errorf("checking the sha256 pin of %s: %w", rs.display, err)
			return run
		case sum != s.SHA256:
			run.err = fmt.Errorf("%s has sha256 %s, but the contract pins subject %q to %s: not the model the contract is about", rs.display, sum, name, s.SHA256)
			return run
		}
	}
	tokens, err := src.tokens(r, c, rs)
	if err != nil {
		run.err = err
		return run
	}
	opts := engine.Options{Backend: string(s.Backend), Matmul: s.Matmul, Threads: s.Threads, AllPositions: true, Prefill: s.Prefill}
	if opts.Backend == "" && s.Kind != contracts.SubjectLlamaCpp {
		opts.Backend = engine.DefaultBackend // one cache key for "cpu" named or implied
	}
	if opts.Matmul == "" {
		opts.Matmul = trace.MatmulQuantized
	}
	if opts.Threads == 0 {
		opts.Threads = r.opts.Threads
	}
	if opts.Threads <= 0 {
		opts.Threads = DefaultThreads()
	}
	traced := s.Trace || !src.canUntraced
	allLogitsFor := NeedsAllLogits(c)[name]
	// Only a traced engine run has a choice: an untraced one computes the
	// last position's logits whatever a gate asks, a file holds what it
	// holds, another runtime computes what it computes (a gate that needs
	// more refuses the trace).
	opts.AllLogits = traced && s.Kind == contracts.SubjectModel && allLogitsFor != ""
	key := runKey{path: rs.path, kind: s.Kind, matmul: opts.Matmul, threads: opts.Threads, traced: traced, allLogits: opts.AllLogits, input: fmt.Sprint(tokens),
		kvType: s.KVType, flashAttn: s.FlashAttn, prefill: s.Prefill, backend: opts.Backend}
	shared := r.cachedRun(key, func() *subjectRun { return src.run(r, ctx, rs, tokens, opts, traced) })
	run.trace, run.model, run.prov, run.opts, run.skip, run.err = shared.trace, shared.model, shared.prov, shared.opts, shared.skip, shared.err
	run.unavailable = shared.unavailable
	run.prov.Subject = name
	run.prov.Sample = s.Sample
	run.prov.ConvertedFrom = rs.convertedFrom
	if run.trace != nil {
		run.prov.LogitsPositions = trace.PositionsLast
		if run.trace.HasAllLogits() {
			run.prov.LogitsPositions = trace.PositionsAll
		}
		if opts.AllLogits {
			run.prov.AllLogitsFor = allLogitsFor
		}
	}
	if rs.display != "" {
		run.prov.Model = rs.display
	}
	return run
}

// engineBackend is the engine backend a model subject runs on (the
// default when it names none).
func engineBackend(s *contracts.Subject) string {
	if s.Backend == contracts.BackendDefault {
		return engine.DefaultBackend
	}
	return string(s.Backend)
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

// source produces a subject's trace, one per contracts.SubjectKind
// (sources; TestEverySubjectKindHasASource).
type source struct {
	// tokens returns the contract input's tokens for the subject.
	tokens func(r *Runner, c *contracts.Contract, rs *resolvedSubject) ([]int32, error)
	// run produces the trace of tokens (traced: with every capture point,
	// else only the logits).
	run func(r *Runner, ctx context.Context, rs *resolvedSubject, tokens []int32, opts engine.Options, traced bool) *subjectRun
	// canUntraced says whether the source can run without capture hooks
	// (a golden file is a full trace either way).
	canUntraced bool
}

// sources is the one registry of subject sources.
var sources = map[contracts.SubjectKind]source{
	contracts.SubjectModel: {tokens: modelTokens, run: (*Runner).runModel, canUntraced: true},
	contracts.SubjectGolden: {tokens: goldenTokens, run: func(r *Runner, _ context.Context, rs *resolvedSubject, tokens []int32, _ engine.Options, _ bool) *subjectRun {
		return r.runGolden(rs, tokens)
	}},
	contracts.SubjectTraceFile: {tokens: externalTokens, run: (*Runner).runTraceFile},
	contracts.SubjectCommand:   {tokens: externalTokens, run: (*Runner).runCommandSubject},
	contracts.SubjectLlamaCpp:  {tokens: modelTokens, run: (*Runner).runLlamaCpp},
}

// modelTokens returns the listed tokens, or the prompt through the
// model's tokenizer (checked against expect_tokens).
func modelTokens(r *Runner, c *contracts.Contract, rs *resolvedSubject) ([]int32, error) {
	in := c.Input
	if in == nil {
		return nil, errors.New("contract has no input")
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

// goldenTokens returns the listed or expected tokens, which a trace made
// elsewhere (a golden, a trace file, a command's output) must hold. With
// only a prompt there is nothing to check such a trace's tokens against,
// and a statistics gate would compare two different inputs: an error.
func goldenTokens(_ *Runner, c *contracts.Contract, _ *resolvedSubject) ([]int32, error) {
	in := c.Input
	if in == nil {
		return nil, errors.New("contract has no input")
	}
	if len(in.Tokens) > 0 {
		return toInt32(in.Tokens), nil
	}
	if len(in.ExpectTokens) == 0 {
		return nil, fmt.Errorf("the input gives only a prompt (%q): a trace made elsewhere is checked against the input's token ids, so add input.expect_tokens (falsify tokenize MODEL %q)", in.Prompt, in.Prompt)
	}
	return toInt32(in.ExpectTokens), nil
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
	if r.opts.Log != nil {
		opts.Progress = progress.Layers(r.opts.Log, "falsify: running "+rs.display, 5*time.Second)
	}
	if traced {
		run.trace, err = engine.Run(m, tokens, opts)
	} else {
		run.trace, err = untracedRun(m, tokens, opts)
	}
	if errors.Is(err, engine.ErrBackendUnavailable) {
		run.skip = err.Error() // e.g. a GPU backend with no device here
		run.unavailable = opts.Backend
		return run
	}
	if err != nil {
		run.err = err
		return run
	}
	r.logf("ran %s in %.1fs", rs.display, time.Since(start).Seconds())
	run.prov = evidence.SubjectProvenance{Provenance: run.trace.Provenance, Duration: time.Since(start)}
	run.prov.Model = rs.display
	return run
}

// untracedRun runs without capture hooks and records only the last
// position's logits. It splits tokens as engine.Run does: the first
// opts.Prefill tokens in one Forward call (all of them when Prefill is 0),
// then one token per call through the KV cache, so a `prefill` subject
// runs the decode path whether it is traced or not. Ignoring Prefill
// here would run an untraced prefill subject as one batch, and a gate
// comparing it with a batch run would compare the batch path with itself
// and PASS having measured nothing of the decode path.
func untracedRun(m *engine.Model, tokens []int32, opts engine.Options) (*trace.Trace, error) {
	opts.Trace = false
	prefill := opts.Prefill
	if prefill == 0 {
		prefill = len(tokens)
	}
	if prefill < 0 || prefill > len(tokens) {
		return nil, fmt.Errorf("prefill %d outside 0..%d (the prompt's tokens)", opts.Prefill, len(tokens))
	}
	s, err := engine.NewSession(m, opts, len(tokens), len(tokens))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	start := time.Now()
	if err := s.Forward(tokens[:prefill], nil); err != nil {
		return nil, err
	}
	last := prefill // tokens of the last Forward call, which Logits checks
	for i := prefill; i < len(tokens); i++ {
		if err := s.Forward(tokens[i:i+1], nil); err != nil {
			return nil, fmt.Errorf("decode step at position %d: %w", i, err)
		}
		last = 1
	}
	logits := append(trace.Vector(nil), s.Logits(last)...)
	tr := &trace.Trace{Tokens: tokens, Logits: trace.SlotTrace{Last: logits, LastToken: trace.ComputeStats(logits)}, LogitsPositions: trace.PositionsLast}
	seconds := time.Since(start).Seconds()
	sha := "" // a model without a file has none, as in engine.Run
	if m.Path != "" {
		if sha, err = m.SHA256(); err != nil {
			return nil, err
		}
	}
	// The model's unused tensors and warnings (a prompt past the training
	// context) are reported for an untraced run as for a traced one.
	tr.Provenance = trace.Provenance{Model: m.Path, SHA256: sha, Format: m.Format, Arch: m.Hyper.Arch, Backend: s.Backend().Name(), Device: s.Backend().Device(),
		Matmul: opts.Matmul, Threads: opts.Threads, EngineVersion: engine.Version,
		Seconds: seconds, StartedAt: start.UTC().Format(time.RFC3339), UnusedTensors: m.Unused, Warnings: m.Warnings(len(tokens)),
		Options: opts.ProvenanceOptions()}
	return tr, nil
}

// runGolden reads a llama.cpp golden into a trace with every position.
func (r *Runner) runGolden(rs *resolvedSubject, tokens []int32) *subjectRun {
	run := &subjectRun{}
	tr, err := trace.LoadGolden(rs.path)
	if err != nil {
		run.err = err
		return run
	}
	if len(tokens) > 0 && !slices.Equal(tokens, tr.Tokens) {
		run.err = fmt.Errorf("golden %s was made for tokens %v, the contract's input is %v", rs.display, tr.Tokens, tokens)
		return run
	}
	run.trace = tr
	run.prov = evidence.SubjectProvenance{Provenance: tr.Provenance}
	run.prov.Model = rs.display
	return run
}
