package main

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
)

// gateFilter is run's -k/--gate: a gate runs when its contract id, gate id
// or rule contains any of the substrings (case-insensitive), as pytest's
// -k selects tests by name. No substrings select every gate.
type gateFilter []string

func (f *gateFilter) String() string { return strings.Join(*f, ",") }

func (f *gateFilter) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("empty filter")
	}
	*f = append(*f, v)
	return nil
}

func (f gateFilter) match(c *contracts.Contract, t *contracts.FalsificationTest) bool {
	if len(f) == 0 {
		return true
	}
	hay := strings.ToLower(c.ID + " " + t.ID + " " + t.Rule)
	for _, s := range f {
		if strings.Contains(hay, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// envVarRef finds the variables a subject's ${VAR:-default} reads.
var envVarRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// otherFalsifyVars are the FALSIFY_* variables read outside contracts.
var otherFalsifyVars = []string{"FALSIFY_CACHE", "FALSIFY_CONTRACTS", "FALSIFY_EVIDENCE_DIR",
	"FALSIFY_FIXTURES", "FALSIFY_GGML_DIR", "FALSIFY_NODE_LLAMA_CPP", "FALSIFY_LLAMACPP_CPU", "FALSIFY_VULKAN_DEVICE", "FALSIFY_VULKAN_VALIDATE", "FALSIFY_REQUIRE_VULKAN", "FALSIFY_ALLOW_COMMANDS",
	"FALSIFY_TRACE_OUT", "FALSIFY_TOKENS", "FALSIFY_PROMPT"}

// modelWarnings says, before anything runs, where a run would silently
// measure something other than what the user meant: a subject falling back
// to its builtin model while the user set other subjects' models (their
// gate compares the user's model with the tiny builtin one), and FALSIFY_*
// variables that nothing reads (a misspelt name runs every gate on the
// builtins and passes).
func modelWarnings(cs []*contracts.Contract, sets map[string]string, lookup func(string) (string, bool), environ []string) []string {
	var out []string
	read := slices.Clone(otherFalsifyVars)
	for _, c := range cs {
		var user, fallback []string
		for i := range c.Subjects {
			s := &c.Subjects[i]
			ref := s.Model
			if s.IsGolden() {
				ref = s.Golden
			}
			vars := envVarRef.FindAllStringSubmatch(ref, -1)
			fromUser := sets[s.Name] != ""
			for _, v := range vars {
				read = append(read, v[1])
				if val, ok := lookup(v[1]); ok && val != "" {
					fromUser = true
				}
			}
			resolved, _ := contracts.Expand(ref, lookup)
			switch {
			case fromUser:
				user = append(user, s.Name)
			case resolved == "" && s.From != "":
				// follows its source subject
			case strings.HasPrefix(resolved, contracts.BuiltinPrefix):
				how := fmt.Sprintf("--set %s=PATH", s.Name)
				if len(vars) > 0 {
					how = fmt.Sprintf("%s or %s", vars[0][1], how)
				}
				fallback = append(fallback, fmt.Sprintf("%s (%s; set %s)", s.Name, resolved, how))
			}
		}
		if len(user) > 0 && len(fallback) > 0 {
			out = append(out, fmt.Sprintf("contract %s: you set the model of %s, but %s still run on the builtin model",
				c.ID, strings.Join(user, ", "), strings.Join(fallback, ", ")))
		}
	}
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "FALSIFY_") || val == "" || slices.Contains(read, name) {
			continue
		}
		msg := fmt.Sprintf("%s is set but nothing in this run reads it", name)
		if near := nearest(name, read); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		out = append(out, msg)
	}
	return out
}

// nearest returns the candidate within edit distance 3 of s, if any.
func nearest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// JUnit XML as CI systems read it (the schema Jenkins, GitLab and GitHub
// reporters accept): one testsuite per contract, one testcase per gate.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     float64      `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Time     float64     `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      float64       `xml:"time,attr"`
		Failure   *junitProblem `xml:"failure,omitempty"`
		Error     *junitProblem `xml:"error,omitempty"`
		Skipped   *junitProblem `xml:"skipped,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
)

// writeJUnit writes the gate records as JUnit XML: FAIL and BLOCKED are
// failures, ERROR an error, SKIP skipped (with the reason).
func writeJUnit(path string, recs []*evidence.GateRecord) error {
	byContract := map[string]*junitSuite{}
	var order []string
	all := junitSuites{Name: "falsify"}
	for _, r := range recs {
		s, ok := byContract[r.Contract.ID]
		if !ok {
			s = &junitSuite{Name: r.Contract.ID}
			byContract[r.Contract.ID] = s
			order = append(order, r.Contract.ID)
		}
		secs := r.Finished.Sub(r.Started).Seconds()
		c := junitCase{Name: r.GateID + ": " + r.Rule, Classname: r.Contract.ID, Time: secs}
		detail := r.Reason
		if r.FirstOffending != nil {
			detail += "\nfirst offending: " + r.FirstOffending.String()
		}
		var models []string
		for _, p := range r.Subjects {
			m := p.Subject + ": " + p.Model
			if p.SHA256 != "" {
				m += " sha256:" + p.SHA256
			}
			models = append(models, m)
		}
		c.SystemOut = "models: " + strings.Join(models, "; ")
		switch r.Verdict {
		case evidence.Fail, evidence.Blocked:
			c.Failure = &junitProblem{Message: string(r.Verdict) + ": " + firstLineOf(r.Reason), Type: string(r.Verdict), Text: detail}
			s.Failures++
		case evidence.Error:
			c.Error = &junitProblem{Message: firstLineOf(r.Reason), Type: "ERROR", Text: detail}
			s.Errors++
		case evidence.Skip:
			c.Skipped = &junitProblem{Message: firstLineOf(r.Reason)}
			s.Skipped++
		}
		s.Tests++
		s.Time += secs
		s.Cases = append(s.Cases, c)
	}
	sort.Strings(order)
	for _, id := range order {
		s := byContract[id]
		all.Suites = append(all.Suites, *s)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
		all.Time += s.Time
	}
	b, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	if err := evidence.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("--junit: cannot write %s: %w", path, withoutTempPath(err))
	}
	return nil
}
