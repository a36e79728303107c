package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestLayers(t *testing.T) {
	if Layers(nil, "x", 0) != nil {
		t.Error("a nil writer must give no hook")
	}
	var b bytes.Buffer
	f := Layers(&b, "trace m.gguf", 0) // every call prints
	for l := range 3 {
		f(l, 3)
	}
	if got := strings.Count(b.String(), "\n"); got != 3 || !strings.Contains(b.String(), "trace m.gguf: layer 3/3") {
		t.Errorf("progress lines:\n%s", b.String())
	}
	b.Reset()
	g := Layers(&b, "quiet", 1<<62)
	g(0, 2)
	if b.Len() != 0 {
		t.Errorf("a pass shorter than the interval printed %q", b.String())
	}
}
