package evidence

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/falsify/falsify/internal/mmapfile"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Problem is one reason a set of evidence directories does not prove a
// pass: the file it concerns and why.
type Problem struct {
	File   string
	Reason string
}

func (p Problem) String() string { return p.File + ": " + p.Reason }

// unit is one contract as one current run judged it.
type unit struct {
	run  *RunReport
	decl DeclaredContract
	// gates are the run's records of this contract, by gate id, once
	// their digests matched.
	gates map[string]*GateRecord
}

// Verify checks that the evidence under dirs proves what it says, run by
// run: every run report complete; for every contract a run declared, a
// summary for every declared gate and nothing else, each naming a record
// file whose sha256 matches, whose ids, run and verdict match the summary
// and whose verdict agrees with its measurements; no record that no
// current run lists. Within one directory a later run of a contract
// supersedes earlier ones (it rewrote their records). Across runs, one
// contract must be one version evaluated on one set of models, and a gate
// judged twice must have one verdict. A run may judge part of a contract's
// gates only when its report names a shard, and the shards together must
// cover the contract.
//
// It returns the problems (none: the evidence is whole and consistent;
// whether every verdict is PASS is for the caller) and the notes. An error
// is a directory that cannot be read at all.
func Verify(dirs ...string) (problems []Problem, notes []string, err error) {
	return VerifyWith(VerifyOptions{}, dirs...)
}

// VerifyOptions add checks to Verify.
type VerifyOptions struct {
	// Key, when set, makes every current run's report need a DSSE
	// envelope (run-<id>.dsse) signed with it over the report and its
	// records (see SignRun).
	Key ed25519.PublicKey
}

// VerifyWith is Verify with options.
func VerifyWith(opts VerifyOptions, dirs ...string) (problems []Problem, notes []string, err error) {
	var units []*unit
	for _, dir := range dirs {
		raw, err := readTree(dir)
		if err != nil {
			return nil, nil, err
		}
		u, p, n := verifyDir(dir, raw, opts)
		units = append(units, u...)
		problems = append(problems, p...)
		notes = append(notes, n...)
	}
	problems = append(problems, verifyAcross(units)...)
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].File < problems[j].File })
	return problems, notes, nil
}

func verifyDir(dir string, raw *Evidence, opts VerifyOptions) (units []*unit, problems []Problem, notes []string) {
	bad := func(file, format string, args ...any) {
		problems = append(problems, Problem{file, fmt.Sprintf(format, args...)})
	}
	// The current run of each contract in each directory holding run
	// reports (shards may sit in subdirectories of dir): the latest one
	// that declares it there.
	current := map[string]*RunReport{}
	key := func(evDir, contract string) string { return filepath.Clean(evDir) + "\x00" + contract }
	var runs []*RunReport
	for _, r := range raw.Runs {
		if len(r.MergedFrom) > 0 || r.RunID == "merged" {
			notes = append(notes, fmt.Sprintf("%s: a merged report, not a run; ignored (the runs it merged are checked instead)", r.source))
			continue
		}
		runs = append(runs, r)
		if len(r.Declared) == 0 {
			bad(r.source, "run %s declares no contract and no gates (a report written by an older falsify, or edited): the gate cannot tell whether gates are missing", r.RunID)
			continue
		}
		for _, d := range r.Declared {
			if have, ok := current[key(r.runDir(), d.ID)]; !ok || runBefore(have, r) {
				current[key(r.runDir(), d.ID)] = r
			}
		}
	}
	claimed := map[string]bool{}
	records := map[string]*GateRecord{}
	for _, g := range raw.Gates {
		records[filepath.Clean(g.source)] = g
	}
	for _, r := range runs {
		isCurrent := false
		for _, d := range r.Declared {
			if cur := current[key(r.runDir(), d.ID)]; cur != r {
				notes = append(notes, fmt.Sprintf("%s: contract %s superseded by the later run %s in the same directory", r.source, d.ID, cur.RunID))
				continue
			}
			isCurrent = true
			u := &unit{run: r, decl: d, gates: map[string]*GateRecord{}}
			units = append(units, u)
			for _, s := range r.Gates {
				if s.Contract == d.ID {
					claimed[filepath.Clean(filepath.Join(r.runDir(), filepath.FromSlash(s.File)))] = true
				}
			}
			problems = append(problems, verifyUnit(u, records)...)
		}
		if isCurrent && opts.Key != nil {
			if err := verifyRunSignature(r, opts.Key); err != nil {
				bad(r.source, "%v", err)
			}
		}
		if isCurrent && r.Status != StatusComplete {
			status := r.Status
			if status == "" {
				status = "without a status"
			}
			reason := ""
			if r.StatusReason != "" {
				reason = ": " + r.StatusReason
			}
			bad(r.source, "run %s is %s%s; an incomplete run proves nothing, run it again", r.RunID, status, reason)
		}
		for _, s := range r.Gates {
			if !declares(r, s.Contract) {
				bad(r.source, "run %s lists gate %s/%s of a contract it does not declare", r.RunID, s.Contract, s.GateID)
			}
		}
	}
	for _, g := range raw.Gates {
		if claimed[filepath.Clean(g.source)] {
			continue
		}
		// DIR/<contract-id>/<gate-id>.json: the run report sits in DIR.
		evDir := filepath.Dir(filepath.Dir(g.source))
		if cur, ok := current[key(evDir, g.Contract.ID)]; ok {
			bad(g.source, "record of run %s is not listed by run %s, the latest run of contract %s in %s (a stale record: use a fresh evidence directory per run)",
				g.RunID, cur.RunID, g.Contract.ID, evDir)
		} else {
			bad(g.source, "no run report in %s declares contract %s (run report %s missing or deleted?)", evDir, g.Contract.ID, RunPath(g.RunID))
		}
	}
	return units, problems, notes
}

func declares(r *RunReport, id string) bool {
	for _, d := range r.Declared {
		if d.ID == id {
			return true
		}
	}
	return false
}

func runBefore(a, b *RunReport) bool {
	if !a.Started.Equal(b.Started) {
		return a.Started.Before(b.Started)
	}
	return a.RunID < b.RunID
}

// verifyUnit checks one contract of one run against its record files.
func verifyUnit(u *unit, records map[string]*GateRecord) (problems []Problem) {
	r := u.run
	bad := func(file, format string, args ...any) {
		problems = append(problems, Problem{file, fmt.Sprintf(format, args...)})
	}
	declared := map[string]bool{}
	for _, id := range u.decl.Gates {
		declared[id] = true
	}
	listed := map[string]bool{}
	for _, s := range r.Gates {
		if s.Contract != u.decl.ID {
			continue
		}
		if listed[s.GateID] {
			bad(r.source, "gate %s/%s is listed twice", s.Contract, s.GateID)
			continue
		}
		listed[s.GateID] = true
		if !declared[s.GateID] {
			bad(r.source, "gate %s/%s is listed but contract %s does not declare it", s.Contract, s.GateID, s.Contract)
		}
		if s.File == "" || s.SHA256 == "" {
			bad(r.source, "gate %s/%s has no record file or no sha256 digest", s.Contract, s.GateID)
			continue
		}
		if s.File != GatePath(s.Contract, s.GateID) {
			bad(r.source, "gate %s/%s names the file %q, want %q", s.Contract, s.GateID, s.File, GatePath(s.Contract, s.GateID))
			continue
		}
		path := filepath.Join(r.runDir(), filepath.FromSlash(s.File))
		sum, err := fileSHA256(path)
		if err != nil {
			bad(path, "gate %s/%s of run %s: %v", s.Contract, s.GateID, r.RunID, err)
			continue
		}
		if sum != s.SHA256 {
			bad(path, "sha256 %s does not match %s listed by run report %s: the record was edited or replaced after the run", short(sum), short(s.SHA256), filepath.Base(r.source))
			continue
		}
		g := records[filepath.Clean(path)]
		if g == nil {
			bad(path, "listed by run %s but not readable as a gate record", r.RunID)
			continue
		}
		switch {
		case g.RunID != r.RunID:
			bad(path, "record says run %s, run report %s lists it for run %s", g.RunID, filepath.Base(r.source), r.RunID)
		case g.Contract.ID != s.Contract || g.GateID != s.GateID:
			bad(path, "record is %s/%s, the run report lists it as %s/%s", g.Contract.ID, g.GateID, s.Contract, s.GateID)
		case g.Contract.SHA256 != u.decl.SHA256:
			bad(path, "record's contract sha256 %s is not the declared %s", short(g.Contract.SHA256), short(u.decl.SHA256))
		case g.Verdict != s.Verdict:
			bad(path, "record says %s, run report %s says %s", g.Verdict, filepath.Base(r.source), s.Verdict)
		default:
			if err := g.Consistent(); err != nil {
				bad(path, "%v", err)
			} else {
				u.gates[g.GateID] = g
			}
		}
	}
	var missing []string
	for _, id := range u.decl.Gates {
		if !listed[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 && r.Shard == "" && r.Status == StatusComplete {
		bad(r.source, "run %s judged %d of the %d gates contract %s declares; missing: %s",
			r.RunID, len(u.decl.Gates)-len(missing), len(u.decl.Gates), u.decl.ID, strings.Join(missing, ", "))
	}
	return problems
}

// verifyAcross checks the current runs of one contract against each other.
func verifyAcross(units []*unit) (problems []Problem) {
	byContract := map[string][]*unit{}
	var ids []string
	for _, u := range units {
		if byContract[u.decl.ID] == nil {
			ids = append(ids, u.decl.ID)
		}
		byContract[u.decl.ID] = append(byContract[u.decl.ID], u)
	}
	sort.Strings(ids)
	for _, id := range ids {
		us := byContract[id]
		first := us[0]
		for _, u := range us[1:] {
			if u.decl.SHA256 != first.decl.SHA256 {
				problems = append(problems, Problem{u.run.source, fmt.Sprintf(
					"contract %s was evaluated in two versions: sha256 %s here and %s in %s; evidence of one release must come from one contract version",
					id, short(u.decl.SHA256), short(first.decl.SHA256), first.run.source)})
			}
			if u.run.Shard == "" || first.run.Shard == "" {
				problems = append(problems, Problem{u.run.source, fmt.Sprintf(
					"contract %s was judged by two runs (%s here and %s in %s) that are not named shards; give the gate the evidence of one run",
					id, u.run.RunID, first.run.RunID, first.run.source)})
			}
		}
		// One model per subject across the runs.
		models := map[string]string{} // subject -> sha256
		where := map[string]string{}
		verdicts := map[string]*GateRecord{}
		covered := map[string]bool{}
		for _, u := range us {
			for _, gid := range sortedKeys(u.gates) {
				g := u.gates[gid]
				covered[gid] = true
				if prev, ok := verdicts[gid]; ok && prev.Verdict != g.Verdict {
					problems = append(problems, Problem{g.source, fmt.Sprintf("gate %s/%s is %s here but %s in %s: shards must not judge a gate twice with different verdicts",
						id, gid, g.Verdict, prev.Verdict, prev.source)})
				}
				verdicts[gid] = g
				for _, p := range g.Subjects {
					if p.SHA256 == "" {
						continue
					}
					if have, ok := models[p.Subject]; ok && have != p.SHA256 {
						problems = append(problems, Problem{g.source, fmt.Sprintf(
							"subject %s of contract %s ran on model sha256 %s (%s) here but %s in %s: evidence of one release must come from one model set",
							p.Subject, id, short(p.SHA256), p.Model, short(have), where[p.Subject])})
						continue
					}
					models[p.Subject], where[p.Subject] = p.SHA256, g.source
				}
			}
		}
		if first.run.Shard != "" {
			var missing []string
			for _, gid := range first.decl.Gates {
				if !covered[gid] {
					missing = append(missing, gid)
				}
			}
			if len(missing) > 0 {
				problems = append(problems, Problem{first.run.source, fmt.Sprintf("the shards of contract %s leave gates unjudged: %s", id, strings.Join(missing, ", "))})
			}
		}
	}
	return problems
}

func sortedKeys(m map[string]*GateRecord) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fileSHA256(path string) (string, error) {
	f, err := mmapfile.OpenRegular(path)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("record file missing (deleted after the run?)")
		}
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxRecordBytes+1)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Consistent reports a verdict its own measurements contradict: a
// measurement whose pass flag disagrees with its band, a PASS with a
// failed or non-finite measurement, a first offending measurement, or no
// judged measurement at all (nothing measured is never a pass).
func (g *GateRecord) Consistent() error {
	judged := 0
	for i, m := range g.Measurements {
		if m.Band == nil {
			if m.Pass != nil {
				return fmt.Errorf("measurement %d (%s) has a pass flag but no band", i, m.Name)
			}
			continue
		}
		if m.Pass == nil {
			continue // shown against a band, not judged (e.g. an ERROR's partial value)
		}
		judged++
		if in := m.Band.Contains(float64(m.Value)); in != *m.Pass {
			return fmt.Errorf("measurement %d (%s = %s) says pass: %v but its band is %s", i, m.Name, strconv.FormatFloat(float64(m.Value), 'g', 6, 64), *m.Pass, m.Band)
		}
		if g.Verdict == Pass && !*m.Pass {
			return fmt.Errorf("verdict PASS, but measurement %d (%s) failed its band %s", i, m, m.Band)
		}
	}
	if g.Verdict == Pass {
		if g.FirstOffending != nil {
			return fmt.Errorf("verdict PASS, but first_offending names %s", g.FirstOffending)
		}
		if judged == 0 {
			return fmt.Errorf("verdict PASS with no measurement judged against a band: nothing measured is never a pass")
		}
	}
	return nil
}
