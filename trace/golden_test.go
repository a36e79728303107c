package trace_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/internal/builtin"
	"github.com/falsify/falsify/trace"
)

// goldenJSON returns the builtin golden's decompressed JSON.
func goldenJSON(t *testing.T) (gz string, raw []byte) {
	t.Helper()
	gz, err := builtin.Path("qwen2-tiny-q4_k_m.golden")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return gz, raw
}

// TestLoadGoldenPlainAndGzip: a golden reads the same from the fixture's
// gzip file and from its decompressed JSON.
func TestLoadGoldenPlainAndGzip(t *testing.T) {
	gz, raw := goldenJSON(t)
	a, err := trace.LoadGolden(gz)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "golden.json")
	if err := os.WriteFile(plain, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := trace.LoadGolden(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Layers) != 4 || len(b.Layers) != 4 || a.Logits.AllTokens != b.Logits.AllTokens {
		t.Errorf("gzip and plain goldens differ: %d/%d layers", len(a.Layers), len(b.Layers))
	}
	if !a.HasAllPositions() || a.Provenance.Format != "golden" || a.Provenance.Backend != "llama.cpp" || len(a.Provenance.SHA256) != 64 {
		t.Errorf("golden trace: all positions %v, provenance %+v", a.HasAllPositions(), a.Provenance)
	}
	if _, err := trace.LoadGolden(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("missing golden: no error")
	}
}

// TestReadGoldenRefusesIncomplete: a golden missing a slot, or with a
// slot of the wrong position count, or of another schema, is refused by
// name.
func TestReadGoldenRefusesIncomplete(t *testing.T) {
	_, raw := goldenJSON(t)
	edit := func(f func(g map[string]any)) string {
		var g map[string]any
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		f(g)
		b, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "g.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	layer := func(g map[string]any, l int) map[string]any { return g["layers"].([]any)[l].(map[string]any) }
	for _, tc := range []struct {
		name, want string
		edit       func(g map[string]any)
	}{
		{"no slot", "layer 2 slot ffn_up is missing", func(g map[string]any) { delete(layer(g, 2), "ffn_up") }},
		{"short slot", "layer 1 slot qkv has 6 positions for 7 tokens", func(g map[string]any) {
			rows := layer(g, 1)["qkv"].([]any)
			layer(g, 1)["qkv"] = rows[:6]
		}},
		{"short logits", "logits has 1 positions for 7 tokens", func(g map[string]any) { g["logits"] = g["logits"].([]any)[6:] }},
		{"schema", `schema "golden-forward/v9"`, func(g map[string]any) { g["schema"] = "golden-forward/v9" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := trace.ReadGolden(edit(tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}
