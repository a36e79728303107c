package digest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Dir is the digest cache: $FALSIFY_CACHE/digests, else the user cache
// directory's falsify/digests (the same root as the builtin models and
// the APR conversions).
func Dir() string {
	if d := os.Getenv("FALSIFY_CACHE"); d != "" {
		return filepath.Join(d, "digests")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "falsify", "digests")
	}
	return filepath.Join(os.TempDir(), "falsify-cache", "digests")
}

// identity is what must not change for a stored digest to stay valid.
type identity struct {
	Path    string `json:"path"` // absolute
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns"`
}

// entry is what is stored for one file (a JSON file in Dir): its
// identity and the values computed from its bytes, by kind ("sha256",
// "apr-footer-crc32", ...).
type entry struct {
	identity
	Values map[string]string `json:"values"`
}

func identityOf(abs string, f *os.File) (identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return identity{}, fmt.Errorf("digest: stat %s: %w", abs, err)
	}
	return fromStat(abs, &st), nil
}

func fromStat(abs string, st *unix.Stat_t) identity {
	return identity{Path: abs, Dev: uint64(st.Dev), Ino: uint64(st.Ino), Size: int64(st.Size),
		MtimeNS: st.Mtim.Nano(), CtimeNS: st.Ctim.Nano()}
}

// statPath is the identity of the file at abs now.
func statPath(abs string) (identity, error) {
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return identity{}, err
	}
	return fromStat(abs, &st), nil
}

// entryPath names the entry of an absolute path by the path's hash, so
// any path maps to one flat file name.
func entryPath(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(Dir(), hex.EncodeToString(sum[:16])+".json")
}

// load returns the values stored for the file with identity id (nil when
// there is no entry or it is for another version of the file).
func load(id identity) map[string]string {
	b, err := os.ReadFile(entryPath(id.Path))
	if err != nil {
		return nil
	}
	var e entry
	if json.Unmarshal(b, &e) != nil || e.identity != id {
		return nil
	}
	return e.Values
}

// SHA256 returns the hex SHA-256 of the file at path, from the cache when
// the file's identity matches its entry, else by reading the file (and
// storing the entry). cached says which. Errors name the path: it cannot
// be opened or read, or ctx was cancelled while hashing.
func SHA256(ctx context.Context, path string) (sum string, cached bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, fmt.Errorf("digest: %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", false, fmt.Errorf("digest: %w", err)
	}
	defer f.Close()
	id, err := identityOf(abs, f)
	if err != nil {
		return "", false, err
	}
	if v := load(id)[KindSHA256]; validHex(v) {
		return v, true, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", false, fmt.Errorf("digest: hashing %s: %w", abs, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if after, err := identityOf(abs, f); err == nil && after == id {
		store(id, KindSHA256, sum)
	}
	return sum, false, nil
}

// KindSHA256 is the kind SHA256 stores its digests under.
const KindSHA256 = "sha256"

// Version is a file's identity at the time of a Lookup, for a later
// Store: a value computed from the file is stored only for the version it
// was computed from.
type Version struct{ id identity }

// Lookup returns the value of kind stored for the file at path, when the
// file's identity still matches its entry (ok), and the file's current
// version either way (to Store a value computed now). A file that cannot be
// stat'ed gives ok false and a Version that Store ignores.
func Lookup(path, kind string) (value string, v Version, ok bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", Version{}, false
	}
	id, err := statPath(abs)
	if err != nil {
		return "", Version{}, false
	}
	value, ok = load(id)[kind]
	return value, Version{id}, ok
}

// Store records value as the kind of the file version v (from Lookup),
// beside the values already stored for it, if the file is still that
// version. Like every write of the cache it may silently not happen.
func Store(v Version, kind, value string) {
	if v.id.Path == "" {
		return
	}
	if now, err := statPath(v.id.Path); err != nil || now != v.id {
		return
	}
	store(v.id, kind, value)
}

// racyWindow is how recent a change may be for its digest to be stored.
// File times come from a coarse clock (a few ms on Linux), so a file
// rewritten within one tick after it was hashed could keep the same size,
// mtime and ctime; an entry is stored only for a file whose last change is
// older than this, as git does with racily clean index entries. A file
// changed just now is hashed again on its next use.
var racyWindow = 2 * time.Second

func racy(id identity) bool {
	newest := time.Unix(0, max(id.MtimeNS, id.CtimeNS))
	return time.Since(newest) < racyWindow
}

// store adds kind=value to the entry of id (replacing an entry for
// another version) unless the file changed within racyWindow. The entry is
// written atomically (a temporary file renamed over it), so a concurrent
// reader sees the old entry or the new one, never a part; of two writers
// adding different kinds at once one may lose its value, which only costs
// a recomputation. Failures leave the cache as it was.
func store(id identity, kind, value string) {
	if racy(id) {
		return
	}
	e := entry{identity: id, Values: map[string]string{}}
	for k, old := range load(id) {
		e.Values[k] = old
	}
	e.Values[kind] = value
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	ep := entryPath(id.Path)
	if err := os.MkdirAll(filepath.Dir(ep), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(ep), ".entry-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), ep) != nil {
		os.Remove(tmp.Name())
	}
}

func validHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
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
