package evidence

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// NewRunID returns a run id that sorts by start time and is unique across
// machines: "20260520T101500Z-1a2b3c4d".
func NewRunID(start time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return start.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// GatePath is a gate record's path relative to the evidence directory.
func GatePath(contractID, gateID string) string {
	return filepath.ToSlash(filepath.Join(contractID, gateID+".json"))
}

// RunPath is a run report's path relative to the evidence directory.
func RunPath(runID string) string { return "run-" + runID + ".json" }

// SummaryFile is the Markdown summary's name in the evidence directory.
const SummaryFile = "summary.md"

// WriteGate checks g and writes it to dir/<contract-id>/<gate-id>.json,
// atomically; it returns the path written.
func WriteGate(dir string, g *GateRecord) (string, error) {
	if err := g.Check(); err != nil {
		return "", fmt.Errorf("write gate record: %w", err)
	}
	out := *g // JSON lists are [] rather than null, as the schema says
	if out.Measurements == nil {
		out.Measurements = []Measurement{}
	}
	if out.Subjects == nil {
		out.Subjects = []SubjectProvenance{}
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return "", fmt.Errorf("write gate record %s/%s: %w", g.Contract.ID, g.GateID, err)
	}
	path := filepath.Join(dir, filepath.FromSlash(GatePath(g.Contract.ID, g.GateID)))
	data = append(data, '\n')
	if err := WriteFileAtomic(path, data); err != nil {
		return "", fmt.Errorf("write gate record: %w", err)
	}
	sum := sha256.Sum256(data)
	g.digest = hex.EncodeToString(sum[:])
	return path, nil
}

// WriteRun checks r and writes it to dir/run-<run-id>.json, atomically; it
// returns the path written.
func WriteRun(dir string, r *RunReport) (string, error) {
	if err := r.Check(); err != nil {
		return "", fmt.Errorf("write run report: %w", err)
	}
	out := *r
	if out.Contracts == nil {
		out.Contracts = []ContractRef{}
	}
	if out.Gates == nil {
		out.Gates = []GateSummary{}
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return "", fmt.Errorf("write run report %s: %w", r.RunID, err)
	}
	path := filepath.Join(dir, RunPath(r.RunID))
	if err := WriteFileAtomic(path, append(data, '\n')); err != nil {
		return "", fmt.Errorf("write run report: %w", err)
	}
	return path, nil
}

// WriteSummary writes the Markdown table of r to dir/summary.md,
// atomically; it returns the path written.
func WriteSummary(dir string, r *RunReport) (string, error) {
	path := filepath.Join(dir, SummaryFile)
	if err := WriteFileAtomic(path, []byte(Markdown(r))); err != nil {
		return "", fmt.Errorf("write summary: %w", err)
	}
	return path, nil
}

// WriteFileAtomic writes data to path so that a reader sees the old file
// or the whole new one, never a part: it writes a temporary file in the
// same directory (hidden, so Load never reads it), syncs it, renames it
// over path and syncs the directory. Missing directories are created.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("%s: sync: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// The rename is durable only once the directory entry is; some file
	// systems refuse to sync a directory, which is not worth failing for.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
