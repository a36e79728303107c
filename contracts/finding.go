package contracts

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a finding makes a contract invalid.
type Severity string

// Severities.
const (
	// SeverityError makes the contract invalid: a harness refuses it and
	// `falsify validate` exits 1.
	SeverityError Severity = "error"
	// SeverityWarning is worth a look but does not invalidate.
	SeverityWarning Severity = "warning"
)

// Finding is one problem in a contract, at a line.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column,omitempty"`
	Rule     string   `json:"rule"` // short kebab-case id, one of the Rule* constants
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
}

// String formats f as "file:line: rule: message", with " (warning)"
// appended to warnings.
func (f Finding) String() string {
	s := fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Rule, f.Message)
	if f.Severity == SeverityWarning {
		s += " (warning)"
	}
	return s
}

// Rule ids. Each names one check; tests assert them, so they are stable.
const (
	// Decoding.
	RuleYAMLSyntax       = "yaml-syntax"        // the bytes are not YAML
	RuleEmptyContract    = "empty-contract"     // no document, or not a mapping
	RuleExtraDocument    = "extra-document"     // more than one YAML document
	RuleDuplicateKey     = "duplicate-key"      // a mapping key twice, anywhere
	RuleYAMLAliasCycle   = "yaml-alias-cycle"   // an alias or merge key inside the node it refers to
	RuleYAMLBudget       = "yaml-budget"        // aliases and merge keys expand past the node budget
	RuleEncoding         = "encoding"           // not UTF-8 text (UTF-16, Latin-1, NUL bytes)
	RuleBadID            = "id-not-a-file-name" // a contract or gate id evidence cannot use as a file name
	RuleNearMissKey      = "near-miss-key"      // e.g. falsification_test, proofObligations, meta_data
	RuleWrongType        = "wrong-type"         // a value of the wrong YAML type
	RuleUnknownField     = "unknown-field"      // an unknown key in subjects or input
	RuleUnknownGateKind  = "unknown-gate-kind"  // gate.kind not one of GateKinds
	RuleUnknownGateParam = "unknown-gate-param" // a gate parameter its kind does not have
	RuleMissingGateParam = "missing-gate-param" // a required gate parameter is absent
	RuleConflictingParam = "conflicting-params" // two parameters that exclude each other

	// pv's checks.
	RuleMissingField          = "missing-field"        // a required pv field (metadata, description, rule)
	RuleMissingVersion        = "missing-version"      // metadata.version empty
	RuleMissingReferences     = "missing-references"   // metadata.references empty
	RuleMissingID             = "missing-id"           // a test or harness without id
	RuleMissingPrediction     = "missing-prediction"   // a test with an empty prediction
	RuleDuplicateID           = "duplicate-id"         // two falsification tests with one id
	RuleDuplicateHarnessID    = "duplicate-harness-id" // two Kani harnesses with one id
	RuleObligationCount       = "obligation-count"     // total_obligations != len(proof_obligations)
	RuleUnknownObligationType = "unknown-obligation-type"

	// Ours.
	RuleUnknownSlot        = "unknown-slot"
	RuleUnknownSubject     = "unknown-subject"
	RuleInvertedBand       = "inverted-band"     // band lo > hi
	RuleNonFiniteBand      = "non-finite-band"   // NaN or infinite band end or threshold
	RuleInvalidValue       = "invalid-value"     // an enum or range violation (stat, sample, runs, ...)
	RuleSameSubject        = "same-subject"      // a comparison of a subject with itself
	RuleDanglingRequires   = "dangling-requires" // requires names no test of the contract
	RuleRequiresCycle      = "requires-cycle"
	RuleMissingInput       = "missing-input"       // forward gates but no input, or neither prompt nor tokens
	RuleConflictingInput   = "conflicting-input"   // both prompt and tokens
	RuleInconsistentTokens = "inconsistent-tokens" // expect_tokens disagrees with tokens, or ids < 0
	RuleMissingModel       = "missing-model"       // a subject with nothing to run
	RuleBadSubject         = "bad-subject"         // contradictory subject fields (golden with from, ...)
	RuleBadExpansion       = "bad-expansion"       // malformed ${VAR:-default}
	RuleMetricDirection    = "metric-direction"    // nmse under metric_min, cosine under metric_max (warning)
	RuleNoGate             = "no-gate"             // a test the harness cannot judge (warning)
	RuleUnknownBackend     = "unknown-backend"     // a subject backend this build does not register (warning; set by the CLI, which knows the registry)
	RuleNoTests            = "no-tests"            // no falsification tests (warning)
	RuleCommand            = "command"             // a command gate: code from the contract's author (warning)
)

// ErrInvalid is wrapped by the error Check returns for a contract with
// error findings.
var ErrInvalid = errors.New("contract invalid")

// FindingsError is the error form of a contract's error findings.
type FindingsError []Finding

func (e FindingsError) Error() string {
	lines := make([]string, len(e))
	for i, f := range e {
		lines[i] = f.String()
	}
	return fmt.Sprintf("%v: %d error(s):\n%s", ErrInvalid, len(e), strings.Join(lines, "\n"))
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e FindingsError) Is(target error) bool { return target == ErrInvalid }

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Check validates c and returns a FindingsError (which wraps ErrInvalid)
// holding its error findings, or nil when it has none.
func Check(c *Contract) error {
	var errs FindingsError
	for _, f := range Validate(c) {
		if f.Severity == SeverityError {
			errs = append(errs, f)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Rule < b.Rule
	})
}
