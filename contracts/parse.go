package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/falsify/falsify/internal/mmapfile"
	"gopkg.in/yaml.v3"

	"github.com/falsify/falsify/trace"
)

// ErrSyntax is wrapped by the error Parse returns when the bytes are not
// YAML.
var ErrSyntax = errors.New("yaml syntax")

// SyntaxError is a YAML syntax error with the line the parser reported
// (0 when it named none).
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, RuleYAMLSyntax, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Finding returns the syntax error as a finding, for validators that list
// it with the others.
func (e *SyntaxError) Finding() Finding {
	return Finding{File: e.File, Line: e.Line, Rule: RuleYAMLSyntax, Message: e.Msg, Severity: SeverityError}
}

// maxContractBytes bounds what Load reads: contracts are hand-written text.
const maxContractBytes = 16 << 20

// Load reads and parses the contract file at path (see Parse).
func Load(path string) (*Contract, error) {
	// A FIFO or device would block the read or never end.
	f, err := mmapfile.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("load contract: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxContractBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load contract %s: %w", path, err)
	}
	if len(data) > maxContractBytes {
		return nil, fmt.Errorf("load contract %s: larger than %d bytes", path, maxContractBytes)
	}
	return Parse(path, data)
}

// Parse parses contract bytes; name is the path (or builtin:NAME) that
// findings and the contract ID are derived from. It fails only when the
// bytes are not YAML (a *SyntaxError wrapping ErrSyntax); every other
// problem is kept for Validate.
func Parse(name string, data []byte) (*Contract, error) {
	sum := sha256.Sum256(data)
	c := &Contract{ID: contractID(name), Path: name, SHA256: hex.EncodeToString(sum[:])}
	d := &decoder{file: name}
	if !checkEncoding(d, data) {
		c.findings = d.findings
		return c, nil
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(Pos{Line: 1}, RuleEmptyContract, "the file holds no YAML document")
			c.findings = d.findings
			return c, nil
		}
		return nil, tabHint(data, syntaxError(name, err))
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.errorf(posOf(&extra), RuleExtraDocument, "a contract is one YAML document; this one is ignored")
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(name, err)
	}

	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(posOf(root), RuleEmptyContract, "a contract is a YAML mapping (metadata, falsification_tests, ...), not %s", aKind(root))
		c.findings = d.findings
		return c, nil
	}
	if !checkExpansion(d, root) {
		c.findings = d.findings
		return c, nil
	}
	c.Root = root
	checkDuplicateKeys(d, root)
	d.contract(root, c)
	c.findings, c.notMapping = d.findings, d.notMapping
	return c, nil
}

// contractID is the base name without extension; "builtin:" is dropped.
func contractID(name string) string {
	name = strings.TrimPrefix(name, "builtin:")
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(base, ext) {
			return strings.TrimSuffix(base, ext)
		}
	}
	return base
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parserErrors are libyaml's parser (not scanner) errors. yaml.v3 reports
// their line from a 0-based mark without adding one (scanner errors it
// corrects), so these come out one line early, or with no line at all on
// the first line.
var parserErrors = []string{
	"did not find expected key",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected <document start>",
}

// tabHint adds the likely cause to a syntax error on a line indented with
// a tab, which YAML forbids.
func tabHint(data []byte, err error) error {
	se, ok := err.(*SyntaxError)
	if !ok || se.Line < 1 {
		return err
	}
	lines := bytes.Split(data, []byte("\n"))
	if se.Line > len(lines) {
		return err
	}
	indent := lines[se.Line-1][:len(lines[se.Line-1])-len(bytes.TrimLeft(lines[se.Line-1], " \t"))]
	if bytes.ContainsRune(indent, '\t') {
		se.Msg += " (line " + strconv.Itoa(se.Line) + " is indented with a tab; YAML indents with spaces only)"
	}
	return se
}

func syntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(msg, m[0]+": ")
	}
	if slices.Contains(parserErrors, msg) {
		line++
	}

	return &SyntaxError{File: name, Line: line, Msg: msg}
}

// decoder turns nodes into typed values, collecting findings on the way.
type decoder struct {
	file       string
	findings   []Finding
	notMapping map[Pos]bool // block entries that were not mappings (Contract.notMapping)
}

// entryNotMapping records that the block entry at p was not a mapping.
func (d *decoder) entryNotMapping(p Pos) {
	if d.notMapping == nil {
		d.notMapping = map[Pos]bool{}
	}
	d.notMapping[p] = true
}

func (d *decoder) add(p Pos, sev Severity, rule, format string, args ...any) {
	d.findings = append(d.findings, Finding{File: d.file, Line: p.Line, Column: p.Column,
		Rule: rule, Message: fmt.Sprintf(format, args...), Severity: sev})
}

func (d *decoder) errorf(p Pos, rule, format string, args ...any) {
	d.add(p, SeverityError, rule, format, args...)
}

func (d *decoder) warnf(p Pos, rule, format string, args ...any) {
	d.add(p, SeverityWarning, rule, format, args...)
}

// Known keys per block, for near-miss detection and strictness.
var (
	topKeys = []string{"metadata", "equations", "proof_obligations", "falsification_tests",
		"kani_harnesses", "verification_summary", "subjects", "input"}
	metadataKeys = []string{"version", "description", "kind", "references", "created",
		"author", "depends_on", "registry"}
	testKeys    = []string{"id", "rule", "prediction", "if_fails", "test", "requires", "gate"}
	subjectKeys = []string{"model", "from", "golden", "backend", "matmul", "threads", "sample", "trace", "sha256",
		"command", "env", "timeout", "runtime", "kv_type", "flash_attn", "prefill"}
	inputKeys    = []string{"prompt", "tokens", "expect_tokens"}
	summaryKeys  = []string{"total_obligations"}
	harnessKeys  = []string{"id", "obligation", "property", "bound"}
	oblKeys      = []string{"id", "type", "property", "formal"}
	equationKeys = []string{"formula", "domain", "codomain", "invariants"}
)

// pair is one key/value of a mapping.
type pair struct {
	key   string
	kNode *yaml.Node
	val   *yaml.Node
}

// pairs lists a mapping's entries with aliases resolved and merge keys
// ("<<") inlined before the explicit entries, so explicit ones win.
func pairs(n *yaml.Node) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Tag == "!!merge" || (k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0) {
			for _, m := range mergeSources(v) {
				merged = append(merged, pairs(m)...)
			}
			continue
		}
		own = append(own, pair{key: k.Value, kNode: k, val: v})
	}
	return append(merged, own...)
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	if v == nil {
		return nil
	}
	if v.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, e := range v.Content {
			if e = resolve(e); e != nil && e.Kind == yaml.MappingNode {
				out = append(out, e)
			}
		}
		return out
	}
	if v.Kind == yaml.MappingNode {
		return []*yaml.Node{v}
	}
	return nil
}

// resolve follows aliases (a bounded number of hops).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// aKind is kindName with its article ("an integer", "a list"), for
// messages.
func aKind(n *yaml.Node) string {
	k := kindName(n)
	if strings.ContainsRune("aeiou", rune(k[0])) {
		return "an " + k
	}
	return "a " + k
}

func kindName(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!int":
			return "integer"
		case "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		}
		return "string"
	}
	return "node"
}

// checkDuplicateKeys reports every mapping key that appears twice in its
// mapping, anywhere in the document. Aliases are not followed, so each
// mapping is visited once.
func checkDuplicateKeys(d *decoder, n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if first, dup := seen[k.Value]; dup {
					d.errorf(posOf(k), RuleDuplicateKey, "key %q appears twice in this mapping (first at line %d); YAML keeps only one", k.Value, first)
				} else {
					seen[k.Value] = k.Line
				}
			}
		}
	}
	for _, c := range n.Content {
		checkDuplicateKeys(d, c)
	}
}

// nearMiss returns the known key that key looks like a misspelling of.
// Keys are compared with case, "_" and "-" ignored, and then by edit
// distance (1, or 2 for keys of ten letters or more).
func nearMiss(key string, known []string) (string, bool) {
	nk := normKey(key)
	if nk == "" {
		return "", false
	}
	for _, k := range known {
		if k == key {
			return "", false
		}
	}
	for _, k := range known {
		nw := normKey(k)
		limit := 1
		if len(nw) >= 10 {
			limit = 2
		}
		if len(nw) < 4 {
			limit = 0
		}
		if nk == nw || editDistance(nk, nw) <= limit {
			return k, true
		}
	}
	return "", false
}

func normKey(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(s)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one
// (so "requries" is one edit from "requires").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// unknownKey handles a key a block does not type: a near miss is an error
// everywhere ("did you mean"); otherwise strict blocks (falsify's own)
// refuse it and pv blocks warn that it is ignored (`validate --strict`
// makes that an error too).
func (d *decoder) unknownKey(p pair, block string, known []string, strict bool) {
	if k, ok := nearMiss(p.key, known); ok {
		d.errorf(posOf(p.kNode), RuleNearMissKey, "%s key %q is not one falsify knows: did you mean %q? (as written it would be ignored)", block, p.key, k)
		return
	}
	if strict {
		d.errorf(posOf(p.kNode), RuleUnknownField, "%s has no field %q (known: %s)", block, p.key, strings.Join(known, ", "))
		return
	}
	d.warnf(posOf(p.kNode), RuleUnknownField, "%s key %q is not one falsify knows; it is ignored (known: %s)", block, p.key, strings.Join(known, ", "))
}

// Scalar decoding. Each reports wrong-type with the field name and returns
// ok=false on a mismatch.

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(posOf(n), RuleWrongType, "%s must be a string, not %s", what, aKind(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(posOf(n), RuleWrongType, "%s must be an integer, not %s", what, aKind(n))
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		d.errorf(posOf(n), RuleWrongType, "%s: %s is out of range for an integer (%d to %d)", what, n.Value, math.MinInt, math.MaxInt)
		return 0, false
	}
	return v, true
}

func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errorf(posOf(n), RuleWrongType, "%s must be a number, not %s", what, aKind(n))
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil {
		d.errorf(posOf(n), RuleWrongType, "%s: %q is not a number", what, n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(posOf(n), RuleWrongType, "%s must be true or false, not %s", what, aKind(n))
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errorf(posOf(n), RuleWrongType, "%s: %v", what, err)
		return false, false
	}
	return v, true
}

func (d *decoder) seq(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(posOf(n), RuleWrongType, "%s must be a list, not %s", what, aKind(n))
		return nil, false
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		out[i] = resolve(e)
	}
	return out, true
}

func (d *decoder) strList(n *yaml.Node, what string) ([]string, bool) {
	items, ok := d.seq(n, what)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, e := range items {
		s, ok := d.str(e, fmt.Sprintf("%s[%d]", what, i))
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (d *decoder) intList(n *yaml.Node, what string) ([]int, bool) {
	items, ok := d.seq(n, what)
	if !ok {
		return nil, false
	}
	out := make([]int, 0, len(items))
	for i, e := range items {
		v, ok := d.integer(e, fmt.Sprintf("%s[%d]", what, i))
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func (d *decoder) mapping(n *yaml.Node, what string) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.errorf(posOf(n), RuleWrongType, "%s must be a mapping, not %s", what, aKind(n))
		return false
	}
	return true
}

// listBlock decodes a block that is a list of mappings (proof_obligations,
// kani_harnesses, falsification_tests): item i becomes newItem(its
// position), and field is called for each of its keys with the key's path
// ("block[i].key") for messages. An item that is not a mapping is
// reported and still kept, so later checks see every item.
func listBlock[T any](d *decoder, n *yaml.Node, block string, newItem func(Pos) T, field func(t *T, p pair, path string)) []T {
	items, _ := d.seq(n, block)
	out := make([]T, 0, len(items))
	for i, item := range items {
		t := newItem(posOf(item))
		what := fmt.Sprintf("%s[%d]", block, i)
		if d.mapping(item, what) {
			for _, p := range pairs(item) {
				field(&t, p, what+"."+p.key)
			}
		} else {
			d.entryNotMapping(posOf(item))
		}
		out = append(out, t)
	}
	return out
}

// namedBlock decodes a block that maps names to mappings (equations,
// subjects): entry name becomes newItem(name, the name's position), and
// field is called for each of its keys with the key's path
// ("block.name.key") for messages. An entry that is not a mapping is
// reported and still kept (so references to it resolve), its place
// recorded so that its missing fields are not reported again.
func namedBlock[T any](d *decoder, n *yaml.Node, block string, newItem func(name string, pos Pos) T, field func(t *T, p pair, path string)) []T {
	if !d.mapping(n, block) {
		return nil
	}
	var out []T
	for _, e := range pairs(n) {
		t := newItem(e.key, posOf(e.kNode))
		what := block + "." + e.key
		if d.mapping(e.val, what) {
			for _, p := range pairs(e.val) {
				field(&t, p, what+"."+p.key)
			}
		} else {
			d.entryNotMapping(posOf(e.kNode))
		}
		out = append(out, t)
	}
	return out
}

// Blocks.

func (d *decoder) contract(root *yaml.Node, c *Contract) {
	for _, p := range pairs(root) {
		switch p.key {
		case "metadata":
			c.Metadata = d.metadata(p.val)
			c.Metadata.Pos = posOf(p.kNode)
		case "equations":
			c.Equations = d.equations(p.val)
		case "proof_obligations":
			c.ProofObligations = d.obligations(p.val)
		case "falsification_tests":
			c.FalsificationTests = d.tests(p.val)
		case "kani_harnesses":
			c.KaniHarnesses = d.harnesses(p.val)
		case "verification_summary":
			c.VerificationSummary = d.summary(p.val)
		case "subjects":
			c.Subjects = d.subjects(p.val)
		case "input":
			c.Input = d.input(p.val)
			c.Input.Pos = posOf(p.kNode)
		default:
			if k, ok := nearMiss(p.key, topKeys); ok {
				c.nearMissed = append(c.nearMissed, k)
			}
			d.unknownKey(p, "top-level", topKeys, false)
		}
	}
}

func (d *decoder) metadata(n *yaml.Node) Metadata {
	m := Metadata{Pos: posOf(n)}
	if !d.mapping(n, "metadata") {
		return m
	}
	for _, p := range pairs(n) {
		what := "metadata." + p.key
		switch p.key {
		case "version":
			m.Version, _ = d.str(p.val, what)
		case "description":
			m.Description, _ = d.str(p.val, what)
		case "kind":
			m.Kind, _ = d.str(p.val, what)
		case "references":
			m.References, _ = d.strList(p.val, what)
		case "created":
			m.Created, _ = d.str(p.val, what)
		case "author":
			m.Author, _ = d.str(p.val, what)
		case "depends_on":
			m.DependsOn, _ = d.strList(p.val, what)
		case "registry":
			// pv leaves its shape open; keep scalar text only.
			if p.val.Kind == yaml.ScalarNode {
				m.Registry = p.val.Value
			}
		default:
			d.unknownKey(p, "metadata", metadataKeys, false)
		}
	}
	return m
}

func (d *decoder) equations(n *yaml.Node) []Equation {
	return namedBlock(d, n, "equations",
		func(name string, pos Pos) Equation { return Equation{Name: name, Pos: pos} },
		func(e *Equation, p pair, fw string) {
			switch p.key {
			case "formula":
				e.Formula, _ = d.str(p.val, fw)
			case "domain":
				e.Domain, _ = d.str(p.val, fw)
			case "codomain":
				e.Codomain, _ = d.str(p.val, fw)
			case "invariants":
				e.Invariants, _ = d.strList(p.val, fw)
			default:
				d.unknownKey(p, "equation", equationKeys, false)
			}
		})
}

func (d *decoder) obligations(n *yaml.Node) []ProofObligation {
	return listBlock(d, n, "proof_obligations",
		func(pos Pos) ProofObligation { return ProofObligation{Pos: pos} },
		func(o *ProofObligation, p pair, fw string) {
			switch p.key {
			case "id":
				o.ID, _ = d.str(p.val, fw)
			case "type":
				o.Type, _ = d.str(p.val, fw)
			case "property":
				o.Property, _ = d.str(p.val, fw)
			case "formal":
				o.Formal, _ = d.str(p.val, fw)
			default:
				d.unknownKey(p, "proof obligation", oblKeys, false)
			}
		})
}

func (d *decoder) harnesses(n *yaml.Node) []KaniHarness {
	return listBlock(d, n, "kani_harnesses",
		func(pos Pos) KaniHarness { return KaniHarness{Pos: pos} },
		func(h *KaniHarness, p pair, fw string) {
			switch p.key {
			case "id":
				h.ID, _ = d.str(p.val, fw)
			case "obligation":
				h.Obligation, _ = d.str(p.val, fw)
			case "property":
				h.Property, _ = d.str(p.val, fw)
			case "bound":
				h.Bound, _ = d.integer(p.val, fw)
			default:
				d.unknownKey(p, "kani harness", harnessKeys, false)
			}
		})
}

func (d *decoder) summary(n *yaml.Node) *VerificationSummary {
	s := &VerificationSummary{Pos: posOf(n)}
	if !d.mapping(n, "verification_summary") {
		return s
	}
	for _, p := range pairs(n) {
		switch p.key {
		case "total_obligations":
			s.TotalObligations, s.HasTotal = d.integer(p.val, "verification_summary.total_obligations")
			s.Pos = posOf(p.val)
		default:
			d.unknownKey(p, "verification_summary", summaryKeys, false)
		}
	}
	return s
}

func (d *decoder) tests(n *yaml.Node) []FalsificationTest {
	return listBlock(d, n, "falsification_tests",
		func(pos Pos) FalsificationTest { return FalsificationTest{Pos: pos} },
		func(t *FalsificationTest, p pair, fw string) {
			switch p.key {
			case "id":
				t.ID, _ = d.str(p.val, fw)
			case "rule":
				t.Rule, _ = d.str(p.val, fw)
			case "prediction":
				t.Prediction, _ = d.str(p.val, fw)
			case "if_fails":
				t.IfFails, _ = d.str(p.val, fw)
			case "test":
				t.Test, _ = d.str(p.val, fw)
			case "requires":
				t.Requires, _ = d.strList(p.val, fw)
				t.RequiresPos = posOf(p.val)
			case "gate":
				t.Gate = d.gate(p.val, fw, posOf(p.kNode))
			default:
				d.unknownKey(p, "falsification test", testKeys, false)
			}
		})
}

func (d *decoder) subjects(n *yaml.Node) []Subject {
	return namedBlock(d, n, "subjects",
		func(name string, pos Pos) Subject {
			return Subject{Name: name, Kind: SubjectModel, Backend: BackendDefault, Matmul: trace.MatmulQuantized, Trace: true, Pos: pos}
		},
		d.subjectField)
}

// subjectField decodes one key of a subject (fw its path for messages).
func (d *decoder) subjectField(s *Subject, f pair, fw string) {
	switch f.key {
	case "model":
		s.Model, _ = d.str(f.val, fw)
	case "from":
		s.From, _ = d.str(f.val, fw)
	case "golden":
		s.Golden, _ = d.str(f.val, fw)
		s.Kind = SubjectGolden
	case "backend":
		v, _ := d.str(f.val, fw)
		if v == "" {
			d.errorf(posOf(f.val), RuleInvalidValue, "%s: an empty backend; leave the key out for the default (cpu)", fw)
		}
		s.Backend = Backend(v)
	case "matmul":
		v, _ := d.str(f.val, fw)
		s.Matmul = trace.MatmulMode(v)
	case "threads":
		s.Threads, _ = d.integer(f.val, fw)
	case "sample":
		v, _ := d.str(f.val, fw)
		s.Sample = trace.Sample(v)
	case "trace":
		// A boolean says traced or not; a string names a
		// trace file another engine wrote.
		if f.val != nil && f.val.Kind == yaml.ScalarNode && f.val.Tag == "!!str" {
			s.TraceFile, _ = d.str(f.val, fw)
			s.Kind = SubjectTraceFile
		} else if v, ok := d.boolean(f.val, fw); ok {
			s.Trace = v
		}
	case "command":
		s.Command, _ = d.strList(f.val, fw)
		s.Kind = SubjectCommand
	case "env":
		names, _ := d.strList(f.val, fw)
		for _, name := range names {
			if !validVarName(name) {
				d.errorf(posOf(f.val), RuleInvalidValue, "%s: %q is not an environment variable name", fw, name)
			}
		}
		s.Env = names
	case "timeout":
		if v, ok := d.str(f.val, fw); ok {
			t, err := time.ParseDuration(v)
			if err != nil {
				d.errorf(posOf(f.val), RuleWrongType, "%s must be a duration like 30s or 10m: %v", fw, err)
			}
			s.Timeout = t
		}
	case "runtime":
		s.Runtime, _ = d.str(f.val, fw)
		if s.Runtime == RuntimeLlamaCpp {
			s.Kind = SubjectLlamaCpp
		}
	case "kv_type":
		s.KVType, _ = d.str(f.val, fw)
	case "flash_attn":
		s.FlashAttn, _ = d.boolean(f.val, fw)
	case "prefill":
		s.Prefill, _ = d.integer(f.val, fw)
	case "sha256":
		s.SHA256, _ = d.str(f.val, fw)
	default:
		d.unknownKey(f, "subject "+strconv.Quote(s.Name), subjectKeys, true)
	}
}

func (d *decoder) input(n *yaml.Node) *Input {
	in := &Input{Pos: posOf(n)}
	if !d.mapping(n, "input") {
		return in
	}
	for _, p := range pairs(n) {
		fw := "input." + p.key
		switch p.key {
		case "prompt":
			in.Prompt, _ = d.str(p.val, fw)
		case "tokens":
			in.Tokens, _ = d.intList(p.val, fw)
		case "expect_tokens":
			in.ExpectTokens, _ = d.intList(p.val, fw)
		default:
			d.unknownKey(p, "input", inputKeys, true)
		}
	}
	return in
}
