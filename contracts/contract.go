package contracts

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/falsify/falsify/trace"
)

// Pos is a place in a contract file (1-based; zero when unknown, e.g. for a
// value built in code rather than parsed).
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column,omitempty"`
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Column: n.Column}
}

// Contract is one parsed contract file.
type Contract struct {
	// ID is the file's base name without its .yaml/.yml extension
	// ("apr-vs-gguf-forward-parity-v1"); evidence is filed under it.
	ID string
	// Path is where the bytes came from: a file path, or "builtin:NAME"
	// for an embedded contract.
	Path string
	// SHA256 is the hex SHA-256 of the file bytes, recorded in evidence so
	// a verdict names the exact contract text that produced it.
	SHA256 string

	Metadata            Metadata
	Equations           []Equation // in file order
	ProofObligations    []ProofObligation
	FalsificationTests  []FalsificationTest
	KaniHarnesses       []KaniHarness
	VerificationSummary *VerificationSummary // nil when absent

	// Subjects are the ways of running a model that gates compare, in file
	// order; Subject looks one up by name.
	Subjects []Subject
	// Input is the forward pass's input; nil when the contract has none
	// (only contract_valid and command gates can run without it).
	Input *Input

	// Root is the document's top-level mapping, for callers that want keys
	// this package does not type (pv allows unknown keys).
	Root *yaml.Node

	// findings holds what the decoder found wrong; Validate reports them.
	findings []Finding
	// nearMissed lists top-level blocks that appear only misspelled, so
	// Validate does not report them missing as well.
	nearMissed []string
	// notMapping holds the places of block entries that were not
	// mappings (reported as wrong-type); their missing fields are not
	// reported again.
	notMapping map[Pos]bool
}

// Subject returns the subject called name.
func (c *Contract) Subject(name string) (*Subject, bool) {
	for i := range c.Subjects {
		if c.Subjects[i].Name == name {
			return &c.Subjects[i], true
		}
	}
	return nil, false
}

// Test returns the falsification test with the given id.
func (c *Contract) Test(id string) (*FalsificationTest, bool) {
	for i := range c.FalsificationTests {
		if c.FalsificationTests[i].ID == id {
			return &c.FalsificationTests[i], true
		}
	}
	return nil, false
}

// Version is the contract's metadata version ("" when missing).
func (c *Contract) Version() string { return c.Metadata.Version }

// Metadata is pv's metadata block. Version and Description are required;
// References must be non-empty.
type Metadata struct {
	Version     string
	Description string
	Kind        string
	References  []string
	Created     string
	Author      string
	DependsOn   []string
	Registry    string
	Pos         Pos
}

// Equation is one entry of pv's equations mapping (name -> fields).
type Equation struct {
	Name       string
	Formula    string
	Domain     string
	Codomain   string
	Invariants []string
	Pos        Pos
}

// ProofObligation is one pv proof obligation.
type ProofObligation struct {
	ID       string // optional in pv
	Type     string // one of ObligationTypes
	Property string
	Formal   string
	Pos      Pos
}

// ObligationTypes are the values pv accepts for a proof obligation's type.
var ObligationTypes = []string{
	"invariant", "equivalence", "bound", "monotonicity", "idempotency",
	"linearity", "symmetry", "associativity", "conservation", "ordering",
	"completeness", "soundness", "involution", "determinism", "roundtrip",
	"state_machine", "classification", "independence", "termination",
	"precondition", "postcondition", "frame", "loop_invariant",
	"loop_variant", "old_state", "subcontract",
}

// FalsificationTest is one pv falsification test plus our requires list
// and gate.
type FalsificationTest struct {
	ID         string
	Rule       string
	Prediction string
	IfFails    string
	Test       string // pv's hand-run command, kept for people; not executed
	// Requires lists gate ids that must PASS before this gate is judged;
	// otherwise its verdict is BLOCKED.
	Requires []string
	// Gate is the machine form of the test; nil when the test has none
	// (Validate warns: the harness cannot judge it).
	Gate *Gate
	Pos  Pos
	// RequiresPos is the line of the requires list.
	RequiresPos Pos
}

// KaniHarness is one pv Kani harness entry.
type KaniHarness struct {
	ID         string
	Obligation string
	Property   string
	Bound      int
	Pos        Pos
}

// VerificationSummary is pv's verification_summary block.
type VerificationSummary struct {
	TotalObligations int
	// HasTotal is false when total_obligations is absent.
	HasTotal bool
	Pos      Pos
}

// Backend is where a subject's forward pass runs: the name of an engine
// backend (engine/backend's registry). Any well-formed name is valid in a
// contract; one this build does not register, or whose device is absent,
// makes the subject SKIP with the reason when the contract runs.
type Backend string

// BackendDefault ("") is the backend of a subject that names none: the
// engine's default backend (engine.DefaultBackend, the CPU), resolved by
// the harness so the contract language names no backend of its own.
const BackendDefault Backend = ""

// ValidBackendName reports whether name is well-formed as a backend name
// (what a contract's `backend:` and the CLI's backend flags accept).
func ValidBackendName(name string) bool { return validBackendName(Backend(name)) }

// validBackendName: lowercase letters, digits, '_' and '-', a letter first.
func validBackendName(b Backend) bool {
	if b == "" || b[0] < 'a' || b[0] > 'z' {
		return false
	}
	for _, r := range b {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// SubjectKind is where a subject's trace comes from. The decoder decides
// it once, from the key that names the source (golden: for a golden,
// model: or from: for a model run), and everything downstream reads Kind.
type SubjectKind string

const (
	// SubjectModel runs a model file in the engine (Model, or From
	// converted to APR).
	SubjectModel SubjectKind = "model"
	// SubjectGolden replays a llama.cpp golden forward file (Golden).
	SubjectGolden SubjectKind = "golden"
	// SubjectTraceFile reads a trace file another engine wrote
	// (TraceFile; docs/trace-format.md).
	SubjectTraceFile SubjectKind = "trace"
	// SubjectCommand runs a tracer (Command) that writes a trace file.
	SubjectCommand SubjectKind = "command"
	// SubjectLlamaCpp runs the model in llama.cpp itself (Runtime
	// llamacpp), its graph tensors captured through the eval callback.
	SubjectLlamaCpp SubjectKind = "llamacpp"
)

// SubjectKinds lists every subject kind; the harness has one trace source
// per kind.
func SubjectKinds() []SubjectKind {
	return []SubjectKind{SubjectModel, SubjectGolden, SubjectTraceFile, SubjectCommand, SubjectLlamaCpp}
}

// RuntimeLlamaCpp is the runtime: value that runs a subject's model in
// llama.cpp instead of the embedded engine.
const RuntimeLlamaCpp = "llamacpp"

// BackendVulkan runs a llama.cpp subject on a Vulkan device.
const BackendVulkan Backend = "vulkan"

// Subject is one named way of running a model, or a llama.cpp golden
// trace standing in for one.
type Subject struct {
	Name string
	// Kind is where the trace comes from.
	Kind SubjectKind
	// Model is a path with ${VAR:-default} expansion, or "builtin:NAME";
	// it may expand to "" when From is set. Use ResolveModel.
	Model string
	// From names a GGUF subject whose model is converted to APR when Model
	// expands to "".
	From string
	// Golden is a llama.cpp golden trace file (path or builtin:) used
	// instead of running a model; ${VAR:-default} expansion applies.
	Golden  string
	Backend Backend          // default cpu
	Matmul  trace.MatmulMode // default quantized
	Threads int              // 0: all cores
	// Sample, when set, forces the sample this subject reports for every
	// gate whatever the gate asks for. It exists to reproduce the upstream
	// measurement bug (statistics over all tokens on one side only).
	Sample trace.Sample
	// Trace is false for a run without capture hooks: only the logits are
	// recorded. Used to show that tracing changes no bit of the output.
	Trace bool
	// SHA256, when set, pins the file the subject reads (its model, its
	// golden, or for a `from` subject the converted APR file): a file
	// with another digest is an ERROR, never a silent run on the wrong
	// model. Lower-case hex, 64 digits.
	SHA256 string
	// TraceFile is a trace file (path, ${VAR:-default}) another engine
	// wrote; set by a string `trace:` (a boolean `trace:` is Trace).
	TraceFile string
	// Command is a tracer's argv (no shell): it must write a trace file to
	// the path in $FALSIFY_TRACE_OUT (or an argument spelled {out}).
	Command []string
	// Env names the variables a command subject sees besides PATH, HOME,
	// LANG and the FALSIFY_* inputs; Timeout bounds it (0: default).
	Env     []string
	Timeout time.Duration
	// Runtime is "" (the embedded engine) or llamacpp.
	Runtime string
	// KVType is llama.cpp's KV cache type (f32, f16, q8_0; "" = f16, as
	// llama.cpp's default); FlashAttn turns flash attention on.
	KVType    string
	FlashAttn bool
	// Prefill, when > 0, runs the first Prefill tokens as one batch and
	// the rest one at a time through the KV cache (decode path).
	Prefill int
	Pos     Pos
}

// IsGolden reports whether the subject is a golden trace, not a model run.
func (s *Subject) IsGolden() bool { return s.Kind == SubjectGolden }

// ResolveModel expands Model with lookup (os.LookupEnv in the harness).
// An empty result with From set means "convert From's model".
func (s *Subject) ResolveModel(lookup func(string) (string, bool)) (string, error) {
	v, err := Expand(s.Model, lookup)
	if err != nil {
		return "", fmt.Errorf("subject %q model: %w", s.Name, err)
	}
	return v, nil
}

// ResolveGolden expands Golden with lookup.
func (s *Subject) ResolveGolden(lookup func(string) (string, bool)) (string, error) {
	v, err := Expand(s.Golden, lookup)
	if err != nil {
		return "", fmt.Errorf("subject %q golden: %w", s.Name, err)
	}
	return v, nil
}

// Input is the forward pass's input: a prompt to tokenize, or tokens.
type Input struct {
	Prompt string
	Tokens []int
	// ExpectTokens is what Prompt must tokenize to (the harness checks it
	// per subject; a mismatch is an ERROR, since the gates would compare
	// different inputs).
	ExpectTokens []int
	Pos          Pos
}
