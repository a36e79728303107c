package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// failingEvidence runs examples/first-failure.yaml (one PASS, one FAIL)
// and a passing builtin contract into one evidence directory.
func failingEvidence(t *testing.T) string {
	t.Helper()
	ev := filepath.Join(t.TempDir(), "ev")
	if _, errs, code := runCLI(t, "run", "-t", "2", "--evidence", ev, "trace-determinism-v1"); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	if _, errs, code := runCLI(t, "run", "-t", "2", "--evidence", ev, filepath.Join("..", "..", "examples", "first-failure.yaml")); code != 1 {
		t.Fatalf("run first-failure: exit %d, want 1: %s", code, errs)
	}
	return ev
}

// TestReportFailuresFirst: the page opens with the gates that did not
// pass, and in the verdict table and the gate sections they come before
// every PASS.
func TestReportFailuresFirst(t *testing.T) {
	ev := failingEvidence(t)
	page, errs, code := runCLI(t, "report", ev, "--html", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	fail := strings.Index(page, "Did not pass (1)")
	verdicts := strings.Index(page, "<h2>Verdicts</h2>")
	if fail < 0 || verdicts < 0 || fail > verdicts {
		t.Fatalf("no failure list before the verdict table")
	}
	body := page[verdicts:]
	f := strings.Index(body, "FALSIFY-EXAMPLE-002")
	p := strings.Index(body, "FALSIFY-TRACE-DETERMINISM-001")
	if f < 0 || p < 0 || f > p {
		t.Errorf("the failing gate does not come before the passing ones (at %d and %d)", f, p)
	}
	gates := body[strings.Index(body, "<h2>Gates</h2>"):]
	if strings.Index(gates, `id="gate-first-failure--FALSIFY-EXAMPLE-002"`) > strings.Index(gates, `id="gate-trace-determinism-v1--FALSIFY-TRACE-DETERMINISM-001"`) {
		t.Errorf("gate sections: the failing gate is not first")
	}
}

// TestReportFitsAt1280 renders the page in headless Chromium in a 1280 px
// window and measures the document's scroll width: no element may push
// it past the viewport (a horizontal scrollbar, columns cut off). The
// measurement is a script added to a copy of the page; the page itself
// has none. To look at it:
//
//	chromium --headless --no-sandbox --window-size=1280,2600 --screenshot=/tmp/r.png file:///tmp/r.html
func TestReportFitsAt1280(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not installed (Debian: apt-get install -y chromium); the 1280 px layout check needs it")
	}
	ev := failingEvidence(t)
	tmp := t.TempDir()
	page := filepath.Join(tmp, "report.html")
	if _, errs, code := runCLI(t, "report", ev, "--html", page); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	probe := strings.Replace(string(b), "</body>", `<script>document.body.setAttribute("data-width",
document.documentElement.scrollWidth + " " + document.documentElement.clientWidth)</script></body>`, 1)
	probePath := filepath.Join(tmp, "probe.html")
	os.WriteFile(probePath, []byte(probe), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-sync", "--user-data-dir="+filepath.Join(tmp, "profile"),
		"--window-size=1280,1400", "--dump-dom", "file://"+probePath)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := regexp.MustCompile(`data-width="(\d+) (\d+)"`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no measurement in the DOM Chromium dumped:\n%.500s", out)
	}
	scroll, _ := strconv.Atoi(m[1])
	client, _ := strconv.Atoi(m[2])
	if client < 1200 || client > 1280 {
		t.Fatalf("viewport %d px wide, want about 1280", client)
	}
	if scroll > client {
		t.Errorf("page is %d px wide in a %d px viewport: horizontal overflow", scroll, client)
	}
}
