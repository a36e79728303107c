package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/falsify/falsify/trace"
)

// HTML renders evidence as one self-contained page: the verdict of every
// gate, its measured values, a per-layer chart for every gate whose
// measurements are per layer (inline SVG as data URIs: no file beside the
// page, no script, no network), the contracts and every subject's
// provenance. `falsify report DIR --html out.html` writes it.
//
// The charts are drawn with gonum.org/v1/plot (a maintained Go plotting
// library) rather than by hand.
func HTML(e *Evidence) ([]byte, error) {
	var b bytes.Buffer
	if err := WriteHTML(&b, e); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteHTML writes the page of HTML to w.
func WriteHTML(w io.Writer, e *Evidence) error {
	page, err := buildPage(e)
	if err != nil {
		return err
	}
	if err := pageTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("evidence: render html: %w", err)
	}
	return nil
}

// GateCharts returns the per-layer charts of a gate: one per measured
// quantity (name), with one line per slot and compared pair (or subject).
// A gate without per-layer measurements has none.
func GateCharts(g *GateRecord) []LayerChart {
	type key struct{ name, sample string }
	var order []key
	byKey := map[key]map[string]*ChartSeries{}
	seriesOrder := map[key][]string{}
	bands := map[key][]*trace.Band{}
	for _, m := range g.Measurements {
		if m.Layer == nil {
			continue
		}
		k := key{m.Name, m.Sample}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
			byKey[k] = map[string]*ChartSeries{}
		}
		label := seriesLabel(m)
		s, ok := byKey[k][label]
		if !ok {
			s = &ChartSeries{Name: label}
			byKey[k][label] = s
			seriesOrder[k] = append(seriesOrder[k], label)
		}
		s.X = append(s.X, float64(*m.Layer))
		s.Y = append(s.Y, float64(m.Value))
		s.Fail = append(s.Fail, m.Pass != nil && !*m.Pass)
		bands[k] = append(bands[k], m.Band)
	}
	var charts []LayerChart
	for _, k := range order {
		c := LayerChart{Title: g.GateID + ": " + k.name, YLabel: k.name, LogY: logScaled(k.name)}
		if k.sample != "" {
			c.Title += " (" + k.sample + ")"
		}
		for _, label := range seriesOrder[k] {
			c.Series = append(c.Series, *byKey[k][label])
		}
		c.Band = commonBand(bands[k])
		charts = append(charts, c)
	}
	return charts
}

// seriesLabel names a chart line: the slot, and the pair or subject.
func seriesLabel(m Measurement) string {
	var parts []string
	if m.Slot != "" {
		parts = append(parts, string(m.Slot))
	}
	switch {
	case len(m.Pair) == 2:
		parts = append(parts, m.Pair[0]+"/"+m.Pair[1])
	case m.Subject != "":
		parts = append(parts, m.Subject)
	}
	if len(parts) == 0 {
		return m.Name
	}
	return strings.Join(parts, " ")
}

// logScaled reports whether a quantity spans decades (errors, ratios of
// errors) and reads best on a log axis.
func logScaled(name string) bool {
	for _, s := range []string{"nmse", "max_abs", "rel_l2", "kl", "ulp"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// commonBand is the band every measurement shares, or nil.
func commonBand(bs []*trace.Band) *trace.Band {
	if len(bs) == 0 || bs[0] == nil {
		return nil
	}
	for _, b := range bs[1:] {
		if b == nil || *b != *bs[0] {
			return nil
		}
	}
	return bs[0]
}

// The page model.
type htmlPage struct {
	Title     string
	Report    *RunReport
	Generated string
	Rows      []htmlRow
	Failures  []htmlRow // the rows that did not pass, worst first
	Gates     []htmlGate
	Notes     []string
	Skipped   []string
}

type htmlRow struct {
	GateSummary
	Anchor   string
	Measured string
	Band     string
}

type htmlGate struct {
	*GateRecord
	Anchor       string
	Params       string
	Charts       []template.URL
	Measurements []htmlMeasurement
	Offending    string
	Duration     string
}

type htmlMeasurement struct {
	Where, Name, Value, Band, Pass string
	Fail                           bool
}

func buildPage(e *Evidence) (*htmlPage, error) {
	r := e.Report()
	p := &htmlPage{Title: "falsify report", Report: r, Generated: time.Now().UTC().Format(time.RFC3339), Notes: r.Notes, Skipped: e.Skipped}
	records := map[string]*GateRecord{}
	for _, g := range e.Gates {
		records[gateKey(g.Contract.ID, g.GateID)] = g
	}
	for _, s := range r.Gates {
		row := htmlRow{GateSummary: s}
		if s.Key != nil {
			row.Measured = s.Key.String()
			if s.Key.Band != nil {
				row.Band = s.Key.Band.String()
			}
		}
		if _, ok := records[gateKey(s.Contract, s.GateID)]; ok {
			row.Anchor = anchor(s.Contract, s.GateID)
		}
		p.Rows = append(p.Rows, row)
	}
	// Failures first: a reader opens the page to learn what did not pass.
	sort.SliceStable(p.Rows, func(i, j int) bool { return verdictRank(p.Rows[i].Verdict) < verdictRank(p.Rows[j].Verdict) })
	for _, row := range p.Rows {
		if row.Verdict != Pass {
			p.Failures = append(p.Failures, row)
		}
	}
	gates := slices.Clone(e.Gates)
	sort.SliceStable(gates, func(i, j int) bool { return verdictRank(gates[i].Verdict) < verdictRank(gates[j].Verdict) })
	for _, g := range gates {
		hg := htmlGate{GateRecord: g, Anchor: anchor(g.Contract.ID, g.GateID), Duration: g.Finished.Sub(g.Started).Round(time.Millisecond).String()}
		if len(g.Params) > 0 {
			b, err := json.MarshalIndent(g.Params, "", "  ")
			if err != nil {
				return nil, fmt.Errorf("evidence: gate %s params: %w", g.GateID, err)
			}
			hg.Params = string(b)
		}
		if g.FirstOffending != nil {
			hg.Offending = g.FirstOffending.String()
		}
		for _, c := range GateCharts(g) {
			svg, err := chartSVG(c, 7*vg.Inch, 3.6*vg.Inch)
			if err != nil {
				return nil, err
			}
			hg.Charts = append(hg.Charts, template.URL("data:image/svg+xml;base64,"+base64.StdEncoding.EncodeToString(svg)))
		}
		for _, m := range sortedMeasurements(g.Measurements) {
			hm := htmlMeasurement{Where: where(m), Name: m.Name, Value: fmtValue(float64(m.Value))}
			if m.Band != nil {
				hm.Band = m.Band.String()
			}
			if m.Pass != nil {
				hm.Pass, hm.Fail = "pass", !*m.Pass
				if hm.Fail {
					hm.Pass = "FAIL"
				}
			}
			hg.Measurements = append(hg.Measurements, hm)
		}
		p.Gates = append(p.Gates, hg)
	}
	return p, nil
}

// verdictRank orders verdicts worst first: FAIL, ERROR, BLOCKED, SKIP,
// then PASS.
func verdictRank(v Verdict) int {
	switch v {
	case Fail:
		return 0
	case Error:
		return 1
	case Blocked:
		return 2
	case Skip:
		return 3
	case Pass:
		return 5
	}
	return 4
}

// sortedMeasurements keeps the record's order (forward order, as the
// harness writes it) but groups by name.
func sortedMeasurements(ms []Measurement) []Measurement {
	out := slices.Clone(ms)
	first := map[string]int{}
	for i, m := range out {
		if _, ok := first[m.Name]; !ok {
			first[m.Name] = i
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return first[out[i].Name] < first[out[j].Name] })
	return out
}

func where(m Measurement) string {
	var parts []string
	if m.Layer != nil {
		parts = append(parts, "layer "+strconv.Itoa(*m.Layer))
	}
	if m.Slot != "" {
		parts = append(parts, string(m.Slot))
	}
	if len(m.Pair) == 2 {
		parts = append(parts, m.Pair[0]+" vs "+m.Pair[1])
	} else if m.Subject != "" {
		parts = append(parts, m.Subject)
	}
	if m.Sample != "" {
		parts = append(parts, "("+m.Sample+")")
	}
	if m.Positions != "" {
		parts = append(parts, "(positions "+string(m.Positions)+")")
	}
	if m.Variant != "" {
		parts = append(parts, "("+m.Variant+" vs run 1)")
	}
	return strings.Join(parts, " ")
}

func fmtValue(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

// anchor is an HTML id for a gate.
func anchor(contract, gate string) string {
	var b strings.Builder
	b.WriteString("gate-")
	for _, r := range contract + "--" + gate {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"lower": func(v Verdict) string { return strings.ToLower(string(v)) },
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}: {{.Report.Counts}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; max-width: 100%; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; overflow-wrap: break-word; }
code { word-break: break-all; }
table.prov { width: 100%; table-layout: fixed; font-size: .9em; }
table.prov td { overflow-wrap: anywhere; }
table.prov th { overflow-wrap: normal; hyphens: none; }
table.prov tr > :nth-child(2) { width: 20%; }
table.prov tr > :nth-child(3) { width: 24%; }
th { background: #f4f4f4; }
td.num { font-family: ui-monospace, monospace; text-align: right; }
.v { font-weight: bold; padding: .1em .45em; border-radius: .25em; color: #fff; white-space: nowrap; }
.v.pass { background: #2a8a3a; } .v.fail { background: #c62828; } .v.error { background: #6a1b9a; }
.v.blocked { background: #e65100; } .v.skip { background: #757575; }
.gate { border: 1px solid #ddd; border-radius: .4em; padding: .4em 1em 1em; margin: 1.2em 0; }
.chart { display: block; max-width: 100%; margin: .6em 0; border: 1px solid #eee; }
tr.failrow td { background: #fdecea; }
.failures { border: 2px solid #c62828; border-radius: .4em; padding: .2em 1em .6em; }
.failures li { margin: .3em 0; }
.failures h2 { margin-top: .4em; }
pre { background: #f7f7f7; padding: .5em; overflow-x: auto; }
.meta { color: #555; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">{{.Report.Counts}} &middot; run {{.Report.RunID}}{{if .Report.MergedFrom}} (merged from {{range $i, $r := .Report.MergedFrom}}{{if $i}}, {{end}}{{$r}}{{end}}){{end}}
&middot; {{stamp .Report.Started}} to {{stamp .Report.Finished}}
&middot; host {{.Report.Host}} &middot; {{.Report.GoVersion}} &middot; {{.Report.EngineVersion}}
&middot; page generated {{.Generated}}</p>

{{if .Failures}}<div class="failures"><h2>Did not pass ({{len .Failures}})</h2>
<ul>{{range .Failures}}<li><span class="v {{lower .Verdict}}">{{.Verdict}}</span>
{{if .Anchor}}<a href="#{{.Anchor}}">{{.GateID}}</a>{{else}}{{.GateID}}{{end}} ({{.Contract}}): {{.Reason}}{{if .Measured}} &middot; {{.Measured}}{{if .Band}} outside {{.Band}}{{end}}{{end}}</li>
{{end}}</ul></div>{{end}}

<h2>Verdicts</h2>
<table>
<tr><th>contract</th><th>gate</th><th>kind</th><th>verdict</th><th>measured</th><th>band</th><th>reason</th></tr>
{{range .Rows}}<tr>
<td>{{.Contract}}</td><td>{{if .Anchor}}<a href="#{{.Anchor}}">{{.GateID}}</a>{{else}}{{.GateID}}{{end}}</td><td>{{.Kind}}</td>
<td><span class="v {{lower .Verdict}}">{{.Verdict}}</span></td><td>{{.Measured}}</td><td>{{.Band}}</td><td>{{.Reason}}</td>
</tr>
{{end}}</table>

<h2>Gates</h2>
{{range .Gates}}<div class="gate" id="{{.Anchor}}">
<h3>{{.GateID}} <span class="v {{lower .Verdict}}">{{.Verdict}}</span></h3>
<p class="meta">contract {{.Contract.ID}} {{.Contract.Version}} &middot; kind {{.Kind}} &middot; run {{.RunID}} &middot; {{stamp .Started}} ({{.Duration}}){{if .Shard}} &middot; shard {{.Shard}}{{end}}{{if .Requires}} &middot; requires {{range $i, $r := .Requires}}{{if $i}}, {{end}}{{$r}}{{end}}{{end}}</p>
{{if .Rule}}<p><b>Rule:</b> {{.Rule}}</p>{{end}}
{{if .Reason}}<p><b>Reason:</b> {{.Reason}}</p>{{end}}
{{if .Offending}}<p><b>First offending:</b> {{.Offending}}</p>{{end}}
{{range .Charts}}<img class="chart" alt="per-layer chart" src="{{.}}">
{{end}}
{{if .Measurements}}<details{{if le (len .Measurements) 12}} open{{end}}><summary>{{len .Measurements}} measurements</summary>
<table>
<tr><th>where</th><th>name</th><th>value</th><th>band</th><th></th></tr>
{{range .Measurements}}<tr{{if .Fail}} class="failrow"{{end}}><td>{{.Where}}</td><td>{{.Name}}</td><td class="num">{{.Value}}</td><td>{{.Band}}</td><td>{{.Pass}}</td></tr>
{{end}}</table></details>{{end}}
{{if .Params}}<details><summary>parameters</summary><pre>{{.Params}}</pre></details>{{end}}
{{if .Subjects}}<table class="prov">
<tr><th>subject</th><th>model</th><th>sha256</th><th>format</th><th>backend</th><th>matmul</th><th>threads</th><th>engine</th><th>time</th></tr>
{{range .Subjects}}<tr><td>{{.Subject}}</td><td>{{.Model}}{{if .ConvertedFrom}} (from {{.ConvertedFrom}}){{end}}</td><td><code>{{.SHA256}}</code></td><td>{{.Format}}</td><td>{{.Backend}}</td><td>{{.Matmul}}</td><td>{{.Threads}}</td><td>{{.EngineVersion}}</td><td>{{.Duration}}</td></tr>
{{end}}</table>{{end}}
</div>
{{end}}

<h2>Contracts</h2>
<table class="prov">
<tr><th>id</th><th>version</th><th>sha256</th><th>path</th></tr>
{{range .Report.Contracts}}<tr><td>{{.ID}}</td><td>{{.Version}}</td><td><code>{{.SHA256}}</code></td><td>{{.Path}}</td></tr>
{{end}}</table>
{{if .Notes}}<h2>Notes</h2><ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Skipped}}<h2>Files that are not evidence</h2><ul>{{range .Skipped}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))
