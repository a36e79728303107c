package digest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func want(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func setup(t *testing.T) string {
	t.Setenv("FALSIFY_CACHE", t.TempDir())
	old := racyWindow
	racyWindow = 0
	t.Cleanup(func() { racyWindow = old })
	return t.TempDir()
}

func get(t *testing.T, path string) (string, bool) {
	t.Helper()
	sum, cached, err := SHA256(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return sum, cached
}

// TestCachedUntilChanged: the first call reads the file, later ones use the
// entry; a rewrite with the same size and the mtime put back (ctime moves),
// a replacement by rename (new inode) and a damaged entry are each hashed
// again, and each digest is that of the bytes.
func TestCachedUntilChanged(t *testing.T) {
	dir := setup(t)
	p := filepath.Join(dir, "model.gguf")
	a := []byte("first version of the model bytes")
	if err := os.WriteFile(p, a, 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, cached := get(t, p); sum != want(a) || cached {
		t.Fatalf("cold: %s cached=%v, want %s from the bytes", sum, cached, want(a))
	}
	if sum, cached := get(t, p); sum != want(a) || !cached {
		t.Fatalf("warm: %s cached=%v, want %s from the cache", sum, cached, want(a))
	}

	// Same size, mtime restored: only the ctime tells.
	st, _ := os.Stat(p)
	time.Sleep(20 * time.Millisecond) // past the coarse timestamp clock
	b := []byte("other version of the model bytes")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if sum, cached := get(t, p); sum != want(b) || cached {
		t.Fatalf("rewritten in place: %s cached=%v, want %s from the bytes", sum, cached, want(b))
	}

	// Replaced by rename: another inode.
	c := []byte("third")
	q := filepath.Join(dir, "new")
	os.WriteFile(q, c, 0o644)
	if err := os.Rename(q, p); err != nil {
		t.Fatal(err)
	}
	if sum, cached := get(t, p); sum != want(c) || cached {
		t.Fatalf("replaced: %s cached=%v, want %s from the bytes", sum, cached, want(c))
	}

	// A damaged entry is not trusted.
	abs, _ := filepath.Abs(p)
	if err := os.WriteFile(entryPath(abs), []byte(`{"sha256":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, cached := get(t, p); sum != want(c) || cached {
		t.Fatalf("damaged entry: %s cached=%v, want %s from the bytes", sum, cached, want(c))
	}
	if _, cached := get(t, p); !cached {
		t.Fatal("the damaged entry was not rewritten")
	}
}

// TestRacyNotStored: a file changed within racyWindow is hashed every time.
func TestRacyNotStored(t *testing.T) {
	dir := setup(t)
	racyWindow = time.Hour
	p := filepath.Join(dir, "m")
	os.WriteFile(p, []byte("x"), 0o644)
	get(t, p)
	if _, cached := get(t, p); cached {
		t.Fatal("a file changed just now was served from the cache")
	}
}

// TestUnwritableCache: without a usable cache directory the digest is
// still computed.
func TestUnwritableCache(t *testing.T) {
	dir := setup(t)
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, []byte("not a directory"), 0o644)
	t.Setenv("FALSIFY_CACHE", blocker) // Dir() is under a regular file
	if sum, cached := get(t, blocker); sum != want([]byte("not a directory")) || cached {
		t.Fatalf("%s cached=%v", sum, cached)
	}
}

// TestErrorsNamePath: a missing file is an error naming it; a cancelled
// context stops the read.
func TestErrorsNamePath(t *testing.T) {
	dir := setup(t)
	missing := filepath.Join(dir, "missing.gguf")
	if _, _, err := SHA256(context.Background(), missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want one naming %s", err, missing)
	}
	p := filepath.Join(dir, "m")
	os.WriteFile(p, []byte("x"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := SHA256(ctx, p); err == nil {
		t.Fatal("a cancelled context still hashed")
	}
}

// TestLookupStore: a stored value is found while the file is unchanged and
// beside the sha256; a value for an older version is not stored, and a
// change hides the stored one.
func TestLookupStore(t *testing.T) {
	dir := setup(t)
	p := filepath.Join(dir, "m.apr")
	os.WriteFile(p, []byte("apr bytes"), 0o644)
	if _, _, ok := Lookup(p, "crc"); ok {
		t.Fatal("a value before any Store")
	}
	_, v, _ := Lookup(p, "crc")
	Store(v, "crc", "1234abcd")
	get(t, p) // adds the sha256 beside it
	if got, _, ok := Lookup(p, "crc"); !ok || got != "1234abcd" {
		t.Fatalf("Lookup = %q, %v", got, ok)
	}
	if _, cached := get(t, p); !cached {
		t.Fatal("sha256 not kept beside the other value")
	}
	_, stale, _ := Lookup(p, "crc")
	time.Sleep(20 * time.Millisecond)
	os.WriteFile(p, []byte("APR BYTES"), 0o644)
	if _, _, ok := Lookup(p, "crc"); ok {
		t.Fatal("a value survived a change of the file")
	}
	Store(stale, "crc", "ffffffff") // computed from the old bytes
	if _, _, ok := Lookup(p, "crc"); ok {
		t.Fatal("a value for an older version was stored")
	}
}
