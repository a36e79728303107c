package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/falsify/falsify/internal/mmapfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNoEvidence is returned by Load for a directory without a single gate
// verdict: an empty evidence directory is never a pass.
var ErrNoEvidence = errors.New("no gate evidence")

// maxRecordBytes bounds one record file; gate records with per-layer
// measurements of a large model stay far below it.
const maxRecordBytes = 64 << 20

// Evidence is what one or more evidence directories hold, merged: one
// gate record per (contract, gate) and every run report.
type Evidence struct {
	Gates []*GateRecord // sorted by contract id, then gate id
	Runs  []*RunReport  // sorted by start time, then run id
	// Notes say what merging decided: which record was kept for a gate
	// seen more than once, gates known only from a run report.
	Notes []string
	// Skipped lists JSON files under the directory that are not evidence
	// (no falsify schema id), e.g. a Ginkgo JSON report.
	Skipped []string
}

// Load reads every gate record and run report under dir, recursively, and
// merges them (see Merge). Hidden files (the temporary files of an atomic
// write) and files not ending in .json are ignored; a .json file that is
// not JSON, or a record that breaks its schema rules, is an error naming
// the file. A directory with no gate verdict at all gives ErrNoEvidence.
func Load(dir string) (*Evidence, error) {
	e, err := readTree(dir)
	if err != nil {
		return nil, err
	}
	m := Merge(e)
	if len(m.Gates) == 0 && !m.hasRunGates() {
		return nil, fmt.Errorf("load evidence %s: %w: no gate record or run report with gates under it", dir, ErrNoEvidence)
	}
	return m, nil
}

// readTree reads every record under dir without merging.
func readTree(dir string) (*Evidence, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load evidence: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("load evidence: %s is not a directory", dir)
	}
	e := &Evidence{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(name, ".json") {
			return nil
		}
		return e.readFile(path)
	})
	if err != nil {
		return nil, fmt.Errorf("load evidence %s: %w", dir, err)
	}
	return e, nil
}

func (e *Evidence) hasRunGates() bool {
	for _, r := range e.Runs {
		if len(r.Gates) > 0 {
			return true
		}
	}
	return false
}

// readFile adds the record in path to e.
func (e *Evidence) readFile(path string) error {
	// Not os.Open: a named pipe planted in an evidence directory would
	// block the release gate for ever (open of a FIFO waits for a writer).
	f, err := mmapfile.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecordBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxRecordBytes {
		return fmt.Errorf("%s: larger than %d bytes", path, maxRecordBytes)
	}
	var head struct {
		Schema  *string         `json:"schema"`
		GateID  json.RawMessage `json:"gate_id"`
		Verdict json.RawMessage `json:"verdict"`
		Gates   json.RawMessage `json:"gates"`
		Counts  json.RawMessage `json:"counts"`
	}
	if !json.Valid(data) {
		return fmt.Errorf("%s: not valid JSON", path)
	}
	schema := ""
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		if err := json.Unmarshal(data, &head); err == nil {
			if head.Schema != nil {
				schema = *head.Schema
			} else if head.GateID != nil || head.Verdict != nil || (head.Gates != nil && head.Counts != nil) {
				// A record whose schema key was removed must not pass as
				// "not evidence".
				return fmt.Errorf("%s: looks like falsify evidence (it has %s) but has no \"schema\" key; want %q or %q",
					path, evidenceKeys(head.GateID != nil, head.Verdict != nil, head.Gates != nil), GateSchemaID, RunSchemaID)
			}
		}
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	switch schema {
	case GateSchemaID:
		var g GateRecord
		if err := json.Unmarshal(data, &g); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := g.Check(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		g.source, g.digest = path, digest
		e.Gates = append(e.Gates, &g)
	case RunSchemaID:
		var r RunReport
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := r.Check(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r.source = path
		e.Runs = append(e.Runs, &r)
	default:
		if strings.HasPrefix(schema, "falsify.") {
			return fmt.Errorf("%s: schema %q is not one this falsify reads (%s, %s)", path, schema, GateSchemaID, RunSchemaID)
		}
		e.Skipped = append(e.Skipped, path)
	}
	return nil
}

func evidenceKeys(gateID, verdict, gates bool) string {
	var keys []string
	for _, k := range []struct {
		on   bool
		name string
	}{{gateID, `"gate_id"`}, {verdict, `"verdict"`}, {gates, `"gates" and "counts"`}} {
		if k.on {
			keys = append(keys, k.name)
		}
	}
	return strings.Join(keys, ", ")
}

// Merge combines evidence from separate runs or shards. A gate (same
// contract id and gate id) seen more than once keeps the record that
// finished last (ties: the later run id, then the later file name), and a
// note names what was kept and what was dropped. A run report seen twice
// (same run id) keeps the one that finished last.
func Merge(parts ...*Evidence) *Evidence {
	out := &Evidence{}
	gates := map[string][]*GateRecord{}
	runs := map[string]*RunReport{}
	for _, p := range parts {
		if p == nil {
			continue
		}
		out.Notes = append(out.Notes, p.Notes...)
		out.Skipped = append(out.Skipped, p.Skipped...)
		for _, g := range p.Gates {
			k := gateKey(g.Contract.ID, g.GateID)
			gates[k] = append(gates[k], g)
		}
		for _, r := range p.Runs {
			if have, ok := runs[r.RunID]; !ok || later(r.Finished, r.source, have.Finished, have.source) {
				runs[r.RunID] = r
			}
		}
	}
	for _, recs := range gates {
		sort.SliceStable(recs, func(i, j int) bool { return gateLater(recs[i], recs[j]) })
		kept := recs[0]
		out.Gates = append(out.Gates, kept)
		for _, dropped := range recs[1:] {
			out.Notes = append(out.Notes, fmt.Sprintf("%s %s: seen twice; kept %s of run %s (finished %s%s) over %s of run %s (finished %s%s)",
				kept.Contract.ID, kept.GateID,
				kept.Verdict, kept.RunID, stamp(kept.Finished), from(kept.source),
				dropped.Verdict, dropped.RunID, stamp(dropped.Finished), from(dropped.source)))
		}
	}
	sort.Slice(out.Gates, func(i, j int) bool {
		a, b := out.Gates[i], out.Gates[j]
		if a.Contract.ID != b.Contract.ID {
			return a.Contract.ID < b.Contract.ID
		}
		return a.GateID < b.GateID
	})
	for _, r := range runs {
		out.Runs = append(out.Runs, r)
	}
	sort.Slice(out.Runs, func(i, j int) bool {
		a, b := out.Runs[i], out.Runs[j]
		if !a.Started.Equal(b.Started) {
			return a.Started.Before(b.Started)
		}
		return a.RunID < b.RunID
	})
	sort.Strings(out.Notes)
	sort.Strings(out.Skipped)
	return out
}

func gateKey(contractID, gateID string) string { return contractID + "\x00" + gateID }

// gateLater orders records latest first.
func gateLater(a, b *GateRecord) bool {
	if !a.Finished.Equal(b.Finished) {
		return a.Finished.After(b.Finished)
	}
	if a.RunID != b.RunID {
		return a.RunID > b.RunID
	}
	return a.source > b.source
}

func later(at time.Time, asrc string, bt time.Time, bsrc string) bool {
	if !at.Equal(bt) {
		return at.After(bt)
	}
	return asrc > bsrc
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func from(src string) string {
	if src == "" {
		return ""
	}
	return ", " + src
}

// Report returns one run report for all of e: every gate's summary (gates
// known only from a run report's summary included, with a note), the
// contracts, the counts, and the span of time the runs covered. Host, Go
// and engine version come from the latest run report.
func (e *Evidence) Report() *RunReport {
	r := &RunReport{Schema: RunSchemaID, Contracts: []ContractRef{}, Gates: []GateSummary{}}
	r.Notes = append(r.Notes, e.Notes...)
	ids := map[string]bool{}
	seen := map[string]bool{}
	span := func(start, end time.Time) {
		if !start.IsZero() && (r.Started.IsZero() || start.Before(r.Started)) {
			r.Started = start
		}
		if end.After(r.Finished) {
			r.Finished = end
		}
	}
	for _, g := range e.Gates {
		r.Add(g)
		seen[gateKey(g.Contract.ID, g.GateID)] = true
		ids[g.RunID] = true
		span(g.Started, g.Finished)
	}
	// Gates that only a run report mentions: the latest summary of each.
	only := map[string]GateSummary{}
	for _, run := range e.Runs {
		ids[run.RunID] = true
		span(run.Started, run.Finished)
		for _, c := range run.Contracts {
			r.addContract(c)
		}
		for _, s := range run.Gates {
			k := gateKey(s.Contract, s.GateID)
			if seen[k] {
				continue
			}
			if have, ok := only[k]; !ok || s.Finished.After(have.Finished) {
				only[k] = s
			}
		}
		// e.Runs is sorted by start, so the last one sets these.
		r.Host, r.GoVersion, r.EngineVersion = run.Host, run.GoVersion, run.EngineVersion
	}
	for _, s := range only {
		r.Gates = append(r.Gates, s)
		r.Counts.Add(s.Verdict)
		r.Notes = append(r.Notes, fmt.Sprintf("%s %s: no gate record file; verdict taken from run report %s", s.Contract, s.GateID, s.RunID))
	}
	sort.Slice(r.Gates, func(i, j int) bool {
		a, b := r.Gates[i], r.Gates[j]
		if a.Contract != b.Contract {
			return a.Contract < b.Contract
		}
		return a.GateID < b.GateID
	})
	sort.Slice(r.Contracts, func(i, j int) bool {
		a, b := r.Contracts[i], r.Contracts[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.SHA256 < b.SHA256
	})
	for i := 1; i < len(r.Contracts); i++ {
		if r.Contracts[i].ID == r.Contracts[i-1].ID {
			r.Notes = append(r.Notes, fmt.Sprintf("contract %s was evaluated in two versions (sha256 %s and %s)", r.Contracts[i].ID, short(r.Contracts[i-1].SHA256), short(r.Contracts[i].SHA256)))
		}
	}
	for id := range ids {
		r.MergedFrom = append(r.MergedFrom, id)
	}
	sort.Strings(r.MergedFrom)
	switch len(r.MergedFrom) {
	case 0:
		r.RunID = "empty"
	case 1:
		r.RunID = r.MergedFrom[0]
		r.MergedFrom = nil
	default:
		r.RunID = "merged"
	}
	if r.Host == "" {
		r.Host = "unknown"
	}
	sort.Strings(r.Notes)
	return r
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
