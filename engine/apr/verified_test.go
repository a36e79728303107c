package apr_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/falsify/falsify/engine/apr"
)

// TestOpenVerified: given the stored footer, OpenVerified skips the CRC
// pass (a byte flipped in the tensor data, footer unchanged, still opens,
// where Open refuses it); given any other value it checks as Open does;
// the header checksum is checked either way.
func TestOpenVerified(t *testing.T) {
	b := smallFile(t)
	footer := binary.LittleEndian.Uint32(b[len(b)-4:])
	b[len(b)-10] ^= 0x40 // tensor data: only the footer CRC covers it
	p := filepath.Join(t.TempDir(), "m.apr")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := apr.Open(p); !errors.Is(err, apr.ErrChecksum) {
		t.Fatalf("Open: %v, want ErrChecksum", err)
	}
	if _, err := apr.OpenVerified(p, footer+1); !errors.Is(err, apr.ErrChecksum) {
		t.Fatalf("OpenVerified with another footer: %v, want ErrChecksum", err)
	}
	f, err := apr.OpenVerified(p, footer)
	if err != nil {
		t.Fatalf("OpenVerified with the stored footer: %v", err)
	}
	f.Close()
	b[50] ^= 1 // the header
	os.WriteFile(p, b, 0o644)
	if _, err := apr.OpenVerified(p, footer); !errors.Is(err, apr.ErrChecksum) {
		t.Fatalf("OpenVerified with a damaged header: %v, want ErrChecksum", err)
	}
}
