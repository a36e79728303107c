package evidence

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/falsify/falsify/internal/filelock"
)

// summaryLockFile serializes summary updates in one evidence directory.
const summaryLockFile = ".summary.lock"

// UpdateSummary rewrites dir/summary.md from every gate record in dir, not
// just the caller's run: it loads the directory and writes the merged
// table while holding an flock on the directory's lock file, so runs and
// suites sharing a directory cannot overwrite each other's rows (the last
// writer always reads everything written before it). It returns the
// merged report.
func UpdateSummary(ctx context.Context, dir string) (*RunReport, error) {
	lock, err := filelock.Exclusive(ctx, filepath.Join(dir, summaryLockFile))
	if err != nil {
		return nil, fmt.Errorf("write summary: %w", err)
	}
	defer lock.Unlock()
	ev, err := Load(dir)
	if err != nil {
		return nil, err
	}
	rep := ev.Report()
	if _, err := WriteSummary(dir, rep); err != nil {
		return nil, err
	}
	return rep, nil
}
