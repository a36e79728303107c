package evidence

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/falsify/falsify/trace"
)

func TestGateCharts(t *testing.T) {
	band := trace.Band{Lo: math.Inf(-1), Hi: 1e-3}
	g := NewGateRecord("r1", ContractRef{ID: "c"}, "G-1", "metric_max")
	for l := range 3 {
		for _, slot := range []trace.Slot{"qkv", "ffn_out"} {
			g.Measurements = append(g.Measurements, Measurement{Layer: Layer(l), Slot: slot, Pair: []string{"a", "b"}, Name: "nmse", Value: trace.Float(1e-5 * float64(l+1))}.Judge(band))
		}
		g.Measurements = append(g.Measurements, Measurement{Layer: Layer(l), Slot: "qkv", Name: "std_ratio", Value: 1})
	}
	g.Measurements = append(g.Measurements, Measurement{Slot: "logits", Name: "kl_max", Value: 0})
	charts := GateCharts(g)
	if len(charts) != 2 {
		t.Fatalf("%d charts, want 2 (nmse, std_ratio; kl_max has no layer)", len(charts))
	}
	nmse := charts[0]
	if !nmse.LogY || len(nmse.Series) != 2 || nmse.Series[0].Name != "qkv a/b" || len(nmse.Series[0].X) != 3 || nmse.Band == nil || *nmse.Band != band {
		t.Errorf("nmse chart %+v", nmse)
	}
	if charts[1].LogY || charts[1].Band != nil {
		t.Errorf("std_ratio chart: log %v band %v", charts[1].LogY, charts[1].Band)
	}
	for _, format := range []string{"svg", "png"} {
		var b bytes.Buffer
		if err := WriteCharts(&b, format, charts, 400, 200); err != nil || b.Len() < 1000 {
			t.Errorf("%s: %v, %d bytes", format, err, b.Len())
		}
	}
	if err := WriteCharts(&bytes.Buffer{}, "gif", charts, 400, 200); err == nil {
		t.Error("gif accepted")
	}
	// Only zeros and NaN on a log axis: drawn on a linear one, no panic.
	z := LayerChart{LogY: true, Series: []ChartSeries{{Name: "z", X: []float64{0, 1}, Y: []float64{0, math.NaN()}}}}
	if err := WriteCharts(&bytes.Buffer{}, "svg", []LayerChart{z}, 400, 200); err != nil {
		t.Error(err)
	}
}

func TestHTMLEscapesAndLinks(t *testing.T) {
	g := NewGateRecord("r1", ContractRef{ID: "c"}, "G-<1>", "command")
	g.Verdict, g.Reason = Fail, `exit 1: <script>alert("x")</script>`
	g.Started, g.Finished = time.Unix(1, 0), time.Unix(2, 0)
	page, err := HTML(&Evidence{Gates: []*GateRecord{g}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if strings.Contains(s, "<script>") || !strings.Contains(s, "&lt;script&gt;") {
		t.Error("reason not escaped")
	}
	if !strings.Contains(s, `href="#gate-c--G-_1_"`) || !strings.Contains(s, `id="gate-c--G-_1_"`) {
		t.Error("gate anchor missing")
	}
}
