package engine

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/internal/digest"
	"github.com/falsify/falsify/internal/fixture"
)

// TestAPRFooterVerifiedOnce: loading an APR file remembers its verified
// footer CRC in the digest cache; a file damaged in place afterwards (its
// ctime moves) is verified again and refused, so the cache never vouches
// for bytes it did not see.
func TestAPRFooterVerifiedOnce(t *testing.T) {
	t.Setenv("FALSIFY_CACHE", t.TempDir())
	p := convertToAPR(t, fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf"), apr.ConvertOptions{})
	time.Sleep(2100 * time.Millisecond) // a file changed within 2 s is not cached (digest's racy window)
	for range 2 {
		m, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		if _, _, ok := digest.Lookup(p, aprFooterKind); !ok {
			t.Fatal("the verified footer CRC was not remembered")
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0x40
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); !errors.Is(err, apr.ErrChecksum) {
		t.Fatalf("damaged file after a cached verification: %v, want ErrChecksum", err)
	}
}
