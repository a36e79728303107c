package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"html"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// writeParityEvidence writes an evidence directory as the harness would: a
// metric_max gate whose per-layer NMSE comes from a real comparison
// (Q4_K_M quantized against f32 matmul), a failing ratio_band gate with a
// first offending layer, a SKIP, and the run report.
func writeParityEvidence(t *testing.T) string {
	t.Helper()
	m, err := engine.Load(fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens := []int32{3838, 374, 220, 17, 10, 17, 30}
	ta, err := engine.Run(m, tokens, engine.Options{Matmul: trace.MatmulQuantized, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := engine.Run(m, tokens, engine.Options{Matmul: trace.MatmulF32, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	cmp, err := parity.Compare(ta, tb, trace.PositionsLast)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	runID := evidence.NewRunID(start)
	c := evidence.ContractRef{ID: "apr-vs-gguf-forward-parity-v1", Version: "1.0.0", SHA256: strings.Repeat("ab", 32), Path: "contracts/apr-vs-gguf-forward-parity-v1.yaml"}
	subjects := []evidence.SubjectProvenance{
		{Subject: "gguf", Provenance: trace.Provenance{Model: m.Path, Format: "gguf", Backend: engine.DefaultBackend, Matmul: "quantized", Threads: 2, EngineVersion: engine.Version}, Duration: time.Millisecond},
		{Subject: "apr", Provenance: trace.Provenance{Model: m.Path, Format: "gguf", Backend: engine.DefaultBackend, Matmul: "f32", Threads: 2, EngineVersion: engine.Version}, Duration: time.Millisecond},
	}
	rep := evidence.NewRunReport(runID, engine.Version, start)

	nmse := evidence.NewGateRecord(runID, c, "FALSIFY-TEST-NMSE-001", "metric_max")
	nmse.Rule, nmse.Params = "per-layer NMSE stays below 1e-3", map[string]any{"kind": "metric_max", "metric": "nmse", "max": 1e-3}
	for _, s := range cmp.Sites {
		if s.Layer < 0 || s.Empty {
			continue
		}
		nmse.Measurements = append(nmse.Measurements, evidence.Measurement{Layer: evidence.Layer(s.Layer), Slot: s.Slot, Positions: trace.PositionsLast,
			Pair: []string{"gguf", "apr"}, Name: "nmse", Value: trace.Float(s.NMSE)}.Judge(trace.Band{Lo: math.Inf(-1), Hi: 1e-3}))
	}
	nmse.Verdict = evidence.Pass

	ratio := evidence.NewGateRecord(runID, c, "FALSIFY-TEST-RATIO-002", "ratio_band")
	ratio.Rule = "swiglu std ratio within [0.999, 1.001]"
	for l := range cmp.NumLayers {
		s := cmp.At(l, "ffn_swiglu_inner")
		ratio.Measurements = append(ratio.Measurements, evidence.Measurement{Layer: evidence.Layer(l), Slot: s.Slot, Sample: "last_token",
			Pair: []string{"gguf", "apr"}, Name: "std_ratio", Value: trace.Float(s.StdRatio)}.Judge(trace.Band{Lo: 0.999, Hi: 1.001}))
	}
	ratio.Verdict, ratio.Reason = evidence.Pass, ""
	for i := range ratio.Measurements {
		if !*ratio.Measurements[i].Pass {
			ratio.Verdict, ratio.Reason = evidence.Fail, "std ratio outside its band: "+ratio.Measurements[i].String()
			fo := ratio.Measurements[i]
			ratio.FirstOffending = &fo
			break
		}
	}

	skip := evidence.NewGateRecord(runID, c, "FALSIFY-TEST-GPU-003", "bit_exact")
	skip.Verdict, skip.Reason = evidence.Skip, "subject cuda: no GPU on this host"

	for i, g := range []*evidence.GateRecord{nmse, ratio, skip} {
		g.Subjects = subjects
		g.Started, g.Finished = start.Add(time.Duration(i)*time.Second), start.Add(time.Duration(i)*time.Second+time.Millisecond)
		if _, err := evidence.WriteGate(dir, g); err != nil {
			t.Fatal(err)
		}
		rep.Add(g)
	}
	rep.Finished = start.Add(5 * time.Second)
	if _, err := evidence.WriteRun(dir, rep); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportHTML(t *testing.T) {
	dir := writeParityEvidence(t)
	out := filepath.Join(t.TempDir(), "report.html")
	if _, errs, code := runCLI(t, "report", dir, "--html", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FALSIFY-TEST-NMSE-001", "FALSIFY-TEST-RATIO-002", "FALSIFY-TEST-GPU-003", "no GPU on this host",
		"apr-vs-gguf-forward-parity-v1", engine.Version, "First offending", "quantized"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: nothing fetched from elsewhere.
	if regexp.MustCompile(`(src|href)="(https?:|//)`).Match(page) {
		t.Error("page refers to an outside resource")
	}
	// One chart per per-layer quantity: nmse and std_ratio.
	uris := regexp.MustCompile(`src="(data:image/svg[^"]*)"`).FindAllSubmatch(page, -1)
	if len(uris) != 2 {
		t.Fatalf("%d inline charts, want 2", len(uris))
	}
	for _, u := range uris {
		uri := html.UnescapeString(string(u[1]))
		svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/svg+xml;base64,"))
		if err != nil {
			t.Fatal(err)
		}
		if err := wellFormedXML(svg); err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("chart is not an SVG document: %v", err)
		}
	}
	md, _, code := runCLI(t, "report", dir)
	if code != 0 || !strings.Contains(md, "| FALSIFY-TEST-RATIO-002 |") {
		t.Errorf("markdown report: exit %d\n%s", code, md)
	}
	if _, _, code := runCLI(t, "report"); code != 2 {
		t.Errorf("report without a directory: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "report", t.TempDir(), "--html", out); code != 3 {
		t.Errorf("report of an empty directory: exit %d, want 3", code)
	}
}

func wellFormedXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// chromium returns Debian's chromium binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// The page renders in headless Chromium with its charts visible: the
// screenshot holds the chart palette's colours (which nothing else on the
// page uses) over many pixels. Reproduce by hand with:
//
//	falsify report DIR --html /tmp/r.html
//	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
//	  --no-first-run --disable-sync --user-data-dir=$(mktemp -d) \
//	  --window-size=1280,4000 --screenshot=/tmp/r.png file:///tmp/r.html
func TestReportRendersInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not installed (Debian: apt-get install -y chromium); the HTML screenshot check needs it")
	}
	dir := writeParityEvidence(t)
	tmp := t.TempDir()
	page, shot := filepath.Join(tmp, "report.html"), filepath.Join(tmp, "shot.png")
	if _, errs, code := runCLI(t, "report", dir, "--html", page); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-sync", "--user-data-dir="+filepath.Join(tmp, "profile"), "--hide-scrollbars",
		"--window-size=1280,4000", "--screenshot="+shot, "file://"+page)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	img := decodePNG(t, shot)
	if n := distinctColors(img); n < 50 {
		t.Fatalf("screenshot has %d distinct colours: blank page?", n)
	}
	if keep := os.Getenv("FALSIFY_KEEP_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(keep, b, 0o644)
	}
	// The first three series colours of the charts (tab10 blue, orange,
	// green), drawn as lines and dots.
	for _, c := range [][3]int{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}} {
		if n := pixelsNear(img, c, 40); n < 100 {
			t.Errorf("colour %v covers %d pixels of the screenshot: charts not drawn?", c, n)
		}
	}
}

func pixelsNear(img image.Image, c [3]int, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			d := abs(int(r>>8)-c[0]) + abs(int(g>>8)-c[1]) + abs(int(bb>>8)-c[2])
			if d <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
