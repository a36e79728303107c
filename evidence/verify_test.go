package evidence

import (
	"github.com/falsify/falsify/trace"
	"math"
	"strings"
	"testing"
)

// TestVerifyWholeRun: a run written by Run verifies with no problem; its
// report is complete and lists every record with a digest.
func TestVerifyWholeRun(t *testing.T) {
	dir := t.TempDir()
	r := writeRun(t, dir, "r1", t0, records("r1", t0))
	if r.Status != StatusComplete {
		t.Errorf("status %q", r.Status)
	}
	for _, g := range r.Gates {
		if len(g.SHA256) != 64 {
			t.Errorf("%s: digest %q", g.GateID, g.SHA256)
		}
	}
	problems, _, err := Verify(dir)
	if err != nil || len(problems) != 0 {
		t.Errorf("Verify: %v %v", problems, err)
	}
}

func TestConsistent(t *testing.T) {
	band := trace.Band{Lo: 0, Hi: 1}
	in := Measurement{Name: "x", Value: 0.5}.Judge(band)
	out := Measurement{Name: "x", Value: 2}.Judge(band)
	lying := in
	lying.Value = 2
	nan := Measurement{Name: "x", Value: trace.Float(math.NaN())}.Judge(band)
	cases := []struct {
		verdict Verdict
		ms      []Measurement
		want    string
	}{
		{Pass, []Measurement{in}, ""},
		{Pass, []Measurement{in, out}, "failed its band"},
		{Pass, []Measurement{lying}, "says pass: true but its band is [0, 1]"},
		{Pass, []Measurement{nan}, "failed its band"},
		{Pass, nil, "nothing measured is never a pass"},
		{Pass, []Measurement{{Name: "info", Value: 3}}, "nothing measured is never a pass"},
		{Fail, []Measurement{out}, ""},
	}
	for _, c := range cases {
		g := &GateRecord{Verdict: c.verdict, Measurements: c.ms}
		err := g.Consistent()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %v: %v", c.verdict, c.ms, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %v: %v, want %q", c.verdict, c.ms, err, c.want)
		}
	}
}
