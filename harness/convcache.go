package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/falsify/falsify/engine/apr"
	"io"
	"os"
	"path/filepath"
	"time"

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

// fileHash returns the hex SHA-256 of salt (when not empty, followed by a
// zero byte) and the file's bytes, once per Runner, path and salt.
func (r *Runner) fileHash(ctx context.Context, path, salt string) (string, error) {
	key := salt + "\x00" + path
	r.mu.Lock()
	if h, ok := r.hashes[key]; ok {
		r.mu.Unlock()
		return h, nil
	}
	r.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() > 1<<30 {
		r.logf("hashing %s (%d MiB) ...", path, st.Size()>>20)
	}
	h := sha256.New()
	if salt != "" {
		io.WriteString(h, salt+"\x00")
	}
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	r.mu.Lock()
	r.hashes[key] = sum
	r.mu.Unlock()
	return sum, nil
}

// ctxReader stops a long read when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
