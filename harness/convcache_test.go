package harness

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/falsify/falsify/internal/builtin"
)

// countConversions replaces the converter with one that counts calls.
func countConversions(t *testing.T) *atomic.Int32 {
	var n atomic.Int32
	orig := convert
	convert = func(ctx context.Context, src, dst string) error {
		n.Add(1)
		time.Sleep(50 * time.Millisecond) // widen the race window
		return orig(ctx, src, dst)
	}
	t.Cleanup(func() { convert = orig })
	return &n
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConversionCacheKeyedByContent: touching the source reuses the one
// cached file; a different file with the same size and mtime does not get
// the first file's conversion.
func TestConversionCacheKeyedByContent(t *testing.T) {
	n := countConversions(t)
	src, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	work, dir := t.TempDir(), t.TempDir()
	a := filepath.Join(dir, "a.gguf")
	copyFile(t, src, a)
	ctx := context.Background()
	first, err := New(Options{WorkDir: work}).converted(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mt := time.Now().Add(time.Duration(i+1) * time.Minute)
		os.Chtimes(a, mt, mt)
		again, err := New(Options{WorkDir: work}).converted(ctx, a)
		if err != nil || again != first {
			t.Fatalf("after touch %d: %s, %v (want %s)", i+1, again, err, first)
		}
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d conversions after three touches, want 1", got)
	}
	// Same size and mtime, one byte different in the tensor data.
	b, _ := os.ReadFile(a)
	b[len(b)-1] ^= 0x01
	bPath := filepath.Join(dir, "b.gguf")
	os.WriteFile(bPath, b, 0o644)
	st, _ := os.Stat(a)
	os.Chtimes(bPath, st.ModTime(), st.ModTime())
	other, err := New(Options{WorkDir: work}).converted(ctx, bPath)
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Errorf("a different file with the same size and mtime reused %s", first)
	}
	entries, _ := filepath.Glob(filepath.Join(ConvertedDir(work), "*.apr"))
	if len(entries) != 2 {
		t.Errorf("cache holds %d APR files, want 2: %v", len(entries), entries)
	}
}

// TestConversionCacheLocked: concurrent Runners (as parallel processes
// would) converting the same model convert it once; a stale temporary
// file is removed.
func TestConversionCacheLocked(t *testing.T) {
	n := countConversions(t)
	src, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	sum, err := New(Options{WorkDir: work}).fileHash(context.Background(), src, convertCacheVersion)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(ConvertedDir(work), 0o755)
	stale := filepath.Join(ConvertedDir(work), "."+sum[:32]+".apr.tmp-999")
	os.WriteFile(stale, []byte("partial"), 0o600)
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := New(Options{WorkDir: work}).converted(context.Background(), src)
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	if got := n.Load(); got != 1 {
		t.Errorf("%d conversions by 3 concurrent runs, want 1", got)
	}
	if outs[0] != outs[1] || outs[1] != outs[2] {
		t.Errorf("different outputs: %v", outs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file not removed")
	}
}
