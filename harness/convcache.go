package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/falsify/falsify/engine/apr"
	"os"
	"path/filepath"
	"time"

	"github.com/falsify/falsify/internal/digest"
	"github.com/falsify/falsify/internal/filelock"
)

// convertCacheVersion names the conversion's output format in the cache
// key; bump it when apr.FromGGUF's output changes, so no stale APR file is
// reused.
const convertCacheVersion = "apr-from-gguf-v1"

// ConvertedDir is the conversion cache under a work directory.
func ConvertedDir(workDir string) string { return filepath.Join(workDir, "converted") }

// convert is the conversion the cache runs (a variable so tests can count
// conversions).
var convert = func(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := apr.ConvertFile(src, dst)
	return err
}

// converted returns the APR conversion of a GGUF file from the cache,
// converting on a miss. The cache is keyed by the source's content
// (SHA-256) and the converter version, never by its name, size or mtime:
// a touched file hits, a different file with the same size and mtime
// misses. Each key is converted under an exclusive flock, so concurrent
// runs (parallel Ginkgo processes, several `falsify run`s) convert a
// model once and the others wait and reuse it; temporary files a killed
// conversion left are removed under the same lock. `falsify cache clean`
// empties the cache.
func (r *Runner) converted(ctx context.Context, src string) (string, error) {
	sum, err := r.fileHash(ctx, src, convertCacheVersion)
	if err != nil {
		return "", err
	}
	dir := ConvertedDir(r.opts.WorkDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	key := sum[:32]
	out := filepath.Join(dir, key+".apr")
	if _, err := os.Stat(out); err == nil {
		r.logf("APR conversion of %s: cached %s", src, out)
		return out, nil
	}
	lock, err := filelock.Exclusive(ctx, filepath.Join(dir, key+".lock"))
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	if _, err := os.Stat(out); err == nil { // another process made it while we waited
		r.logf("APR conversion of %s: cached %s (made by another run)", src, out)
		return out, nil
	}
	stale, _ := filepath.Glob(filepath.Join(dir, "."+key+".apr.tmp-*"))
	for _, p := range stale {
		if os.Remove(p) == nil {
			r.logf("removed %s, left by an interrupted conversion", p)
		}
	}
	r.logf("converting %s to APR (cache %s) ...", src, out)
	start := time.Now()
	if err := convert(ctx, src, out); err != nil {
		return "", err
	}
	if st, err := os.Stat(out); err == nil {
		r.logf("converted %s to APR: %d MiB in %.1fs", src, st.Size()>>20, time.Since(start).Seconds())
	}
	return out, nil
}

// fileHash returns the hex SHA-256 of the file's bytes, or with a salt,
// the hex SHA-256 of the salt, a zero byte and that digest (so a salted key
// still changes with the file's content), once per Runner, path and salt.
// The file's digest comes from the digest cache while the file is
// unchanged (internal/digest), so a multi-GB model is read once, not on
// every run.
func (r *Runner) fileHash(ctx context.Context, path, salt string) (string, error) {
	key := salt + "\x00" + path
	r.mu.Lock()
	if h, ok := r.hashes[key]; ok {
		r.mu.Unlock()
		return h, nil
	}
	r.mu.Unlock()
	if st, err := os.Stat(path); err == nil && st.Size() > 1<<30 {
		r.logf("hashing %s (%d MiB) unless its digest is cached ...", path, st.Size()>>20)
	}
	sum, cached, err := digest.SHA256(ctx, path)
	if err != nil {
		return "", err
	}
	if cached {
		r.logf("sha256 of %s: cached", path)
	}
	if salt != "" {
		h := sha256.Sum256([]byte(salt + "\x00" + sum))
		sum = hex.EncodeToString(h[:])
	}
	r.mu.Lock()
	r.hashes[key] = sum
	r.mu.Unlock()
	return sum, nil
}
