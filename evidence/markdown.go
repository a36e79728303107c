package evidence

import (
	"fmt"
	"sort"
	"strings"
)

// Markdown renders r as one table for a CI log: contract, gate, verdict,
// the key measured value, its band, and the reason; rows sorted by
// contract id then gate id, so the same report always renders the same.
// A heading line gives the verdict counts.
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
	b.WriteString("| contract | gate | verdict | measured | band | reason |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, g := range gates {
		measured, band := "", ""
		if g.Key != nil {
			measured = g.Key.String()
			if g.Key.Band != nil {
				band = g.Key.Band.String()
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(g.Contract), cell(g.GateID),
			cell(verdictCell(g.Verdict)), cell(measured), cell(band), cell(g.Reason))
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
