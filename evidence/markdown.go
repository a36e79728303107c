package evidence

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Markdown renders r as one table for a CI log: contract, gate, verdict,
// the key measured value, its band, the models the gate ran on (subject,
// file name, SHA-256 prefix) and the reason; rows sorted by contract id
// then gate id, so the same report always renders the same. A heading
// line gives the verdict counts.
func Markdown(r *RunReport) string {
	gates := append([]GateSummary(nil), r.Gates...)
	sort.SliceStable(gates, func(i, j int) bool {
		if gates[i].Contract != gates[j].Contract {
			return gates[i].Contract < gates[j].Contract
		}
		return gates[i].GateID < gates[j].GateID
	})
	var b strings.Builder
	noun := "gates"
	if len(gates) == 1 {
		noun = "gate"
	}
	fmt.Fprintf(&b, "### falsify: %s (%d %s, run %s)\n\n", r.Counts, len(gates), noun, r.RunID)
	b.WriteString("| contract | gate | verdict | measured | band | models | reason |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, g := range gates {
		measured, band := "", ""
		if g.Key != nil {
			measured = g.Key.String()
			if g.Key.Band != nil {
				band = g.Key.Band.String()
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", cell(g.Contract), cell(g.GateID),
			cell(verdictCell(g.Verdict)), cell(measured), cell(band), cell(modelsCell(g.Models)), cell(g.Reason))
	}
	return b.String()
}

// verdictCell makes anything but PASS stand out in a rendered log.
func verdictCell(v Verdict) string {
	if v == Pass {
		return string(v)
	}
	return "**" + string(v) + "**"
}

// cell makes s safe inside a table cell: one line, pipes escaped.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// modelsCell names each subject's model by file name and SHA-256 prefix
// ("gguf: q8_0.gguf a7cad5f6"), enough to tell which file a verdict is
// about; the gate record has the full path and digest.
func modelsCell(ms []ModelRef) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		name := m.Model
		if !strings.HasPrefix(name, "builtin:") {
			name = filepath.Base(name)
		}
		s := m.Subject + ": " + name
		if len(m.SHA256) >= 8 {
			s += " " + m.SHA256[:8]
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
