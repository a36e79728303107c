package builtin

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/falsify/falsify/engine/gguf"
)

//go:embed data/models/qwen2-tiny-q4_k_m.gguf data/golden/forward/qwen2-tiny-q4_k_m.json.gz
var data embed.FS

// embedded maps builtin names to files in data.
var embedded = map[string]string{
	"qwen2-tiny-q4_k_m.gguf":   "data/models/qwen2-tiny-q4_k_m.gguf",
	"qwen2-tiny-q4_k_m.golden": "data/golden/forward/qwen2-tiny-q4_k_m.json.gz",
}

// derived maps builtin names to a function that writes them to a path
// (made from an embedded builtin, written once like the embedded files).
// It is filled by init because its functions call Path, which reads it.
var derived map[string]func(path string) error

func init() {
	derived = map[string]func(path string) error{
		"qwen2-tiny-q4_k_m-as-f32.gguf": func(path string) error {
			src, err := Path("qwen2-tiny-q4_k_m.gguf")
			if err != nil {
				return err
			}
			return gguf.WriteAsF32(src, path)
		},
	}
}

// Names lists every builtin name.
func Names() []string {
	var out []string
	for n := range embedded {
		out = append(out, n)
	}
	for n := range derived {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Open returns the embedded bytes of an embedded builtin.
func Open(name string) (fs.File, error) {
	p, ok := embedded[name]
	if !ok {
		return nil, fmt.Errorf("builtin: no embedded file %q", name)
	}
	return data.Open(p)
}

// CacheDir is where builtins are materialized: $FALSIFY_CACHE, else the
// user cache directory's falsify/builtin.
func CacheDir() string {
	if d := os.Getenv("FALSIFY_CACHE"); d != "" {
		return filepath.Join(d, "builtin")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "falsify", "builtin")
	}
	return filepath.Join(os.TempDir(), "falsify-cache", "builtin")
}

var pathMu, derivedMu sync.Mutex

// Path returns a file holding the builtin, writing it to the cache on
// first use. Embedded files go under a directory named by their content
// hash, so a changed binary never reads a stale copy.
func Path(name string) (string, error) {
	if p, ok := embedded[name]; ok {
		pathMu.Lock()
		defer pathMu.Unlock()
		b, err := data.ReadFile(p)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		dst := filepath.Join(CacheDir(), hex.EncodeToString(sum[:8]), name)
		if st, err := os.Stat(dst); err == nil && st.Size() == int64(len(b)) {
			return dst, nil
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("builtin: %w", err)
		}
		if err := writeAtomic(dst, func(f *os.File) error { _, err := f.Write(b); return err }); err != nil {
			return "", fmt.Errorf("builtin: %s: %w", name, err)
		}
		return dst, nil
	}
	// Derived builtins are made from other builtins (Path is re-entered),
	// so they take their own lock.
	derivedMu.Lock()
	defer derivedMu.Unlock()
	make, ok := derived[name]
	if !ok {
		return "", fmt.Errorf("builtin: no builtin named %q (have: %v)", name, Names())
	}
	// Derived files are keyed by the embedded data they come from.
	dst := filepath.Join(CacheDir(), "derived-"+dataHash(), name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("builtin: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", dst, os.Getpid())
	if err := make(tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("builtin: making %s: %w", name, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("builtin: %w", err)
	}
	return dst, nil
}

var (
	hashOnce sync.Once
	hashHex  string
)

// dataHash identifies the embedded data (and so everything derived from it).
func dataHash() string {
	hashOnce.Do(func() {
		h := sha256.New()
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range embedded {
				if !yield(n) {
					return
				}
			}
		}) {
			b, _ := data.ReadFile(embedded[name])
			h.Write([]byte(name))
			h.Write(b)
		}
		hashHex = hex.EncodeToString(h.Sum(nil)[:8])
	})
	return hashHex
}

func writeAtomic(dst string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), dst)
}
