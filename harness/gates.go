package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// judge dispatches on the gate kind and fills rec's verdict and measurements.
func (r *Runner) judge(ctx context.Context, c *contracts.Contract, g *contracts.Gate, rec *record) {
	// Subjects first: a missing file is an ERROR, a subject that cannot run
	// here a SKIP, before any measurement.
	runs := map[string]*subjectRun{}
	for _, name := range g.Params.SubjectNames() {
		if _, done := runs[name]; done {
			continue
		}
		run := r.subject(ctx, c, name)
		runs[name] = run
		if run.trace != nil || run.skip != "" || run.err == nil {
			rec.Subjects = append(rec.Subjects, run.provenance())
		}
	}
	for _, name := range g.Params.SubjectNames() {
		if run := runs[name]; run.skip != "" {
			rec.Verdict, rec.Reason, rec.UnavailableBackend = evidence.Skip, run.skip, run.unavailable
			return
		}
	}
	for _, name := range g.Params.SubjectNames() {
		if run := runs[name]; run.err != nil {
			errorf(rec, "subject %s: %v", name, run.err)
			return
		}
	}
	if needsVectors[g.Kind] {
		for _, name := range g.Params.SubjectNames() {
			if tr := runs[name].trace; tr != nil {
				if at := tr.MissingVectors(); at != "" {
					rec.Verdict = evidence.Blocked
					rec.Reason = fmt.Sprintf("subject %s is a statistics-only trace (no vector at %s): a %s gate compares vectors, so it cannot be judged on it", name, at, g.Kind)
					return
				}
			}
		}
	}
	if !judgeFinite(g, runs, rec) {
		return
	}
	j, ok := judges[g.Kind]
	if !ok {
		errorf(rec, "gate kind %q has no judge", g.Kind)
		return
	}
	j(gateRun{r: r, ctx: ctx, c: c, runs: runs, rec: rec}, g.Params)
}

// needsVectors lists the gate kinds that compare vectors, not
// statistics: on a statistics-only trace they are BLOCKED.
var needsVectors = map[contracts.GateKind]bool{
	contracts.KindMetricMax: true, contracts.KindMetricMin: true, contracts.KindLogits: true,
	contracts.KindBitExact: true, contracts.KindDeterministic: true,
}

// gateRun is what a judge gets besides its params: the runner, the
// contract, the gate's subjects (every one ran: none skipped or failed),
// and the record to fill.
type gateRun struct {
	r    *Runner
	ctx  context.Context
	c    *contracts.Contract
	runs map[string]*subjectRun
	rec  *record
}

// judge is one gate kind's evaluation: it fills the record's verdict and
// measurements.
type judge func(j gateRun, p contracts.GateParams)

// judgeOf adapts a judge of one params type.
func judgeOf[P contracts.GateParams](f func(j gateRun, p P)) judge {
	return func(j gateRun, p contracts.GateParams) { f(j, p.(P)) }
}

// judges is the one registry of gate judges, one per contracts.GateKinds
// entry (TestEveryGateKindHasAJudge).
var judges = map[contracts.GateKind]judge{
	contracts.KindRatioBand: judgeOf(func(j gateRun, p *contracts.RatioBand) {
		judgeRatioBand(p, j.runs[p.Numerator], j.runs[p.Denominator], j.rec)
	}),
	contracts.KindCountParity: judgeOf(func(j gateRun, p *contracts.CountParity) {
		judgeCountParity(p, j.runs[p.Subjects[0]], j.runs[p.Subjects[1]], j.rec)
	}),
	contracts.KindCoverage: judgeOf(func(j gateRun, p *contracts.Coverage) { judgeCoverage(p, j.runs[p.Subject], j.rec) }),
	contracts.KindMetricMax: judgeOf(func(j gateRun, p *contracts.MetricMax) {
		judgeMetric(&p.Compare, trace.Band{Lo: math.Inf(-1), Hi: p.Max}, j.runs[p.A], j.runs[p.B], j.rec)
	}),
	contracts.KindMetricMin: judgeOf(func(j gateRun, p *contracts.MetricMin) {
		judgeMetric(&p.Compare, trace.Band{Lo: p.Min, Hi: math.Inf(1)}, j.runs[p.A], j.runs[p.B], j.rec)
	}),
	contracts.KindLogits:   judgeOf(func(j gateRun, p *contracts.Logits) { judgeLogits(p, j.runs[p.A], j.runs[p.B], j.rec) }),
	contracts.KindBitExact: judgeOf(func(j gateRun, p *contracts.BitExact) { judgeBitExact(p, j.runs[p.A], j.runs[p.B], j.rec) }),
	contracts.KindDeterministic: judgeOf(func(j gateRun, p *contracts.Deterministic) {
		j.r.judgeDeterministic(j.ctx, p, j.runs[p.Subject], j.rec)
	}),
	contracts.KindContractValid: judgeOf(func(j gateRun, _ *contracts.ContractValid) { judgeContractValid(j.c, j.rec) }),
	contracts.KindCommand:       judgeOf(func(j gateRun, p *contracts.Command) { j.r.judgeCommand(j.ctx, p, j.rec) }),
}

func (run *subjectRun) provenance() evidence.SubjectProvenance {
	p := run.prov
	p.Subject = run.name
	if run.sample != "" {
		p.Sample = run.sample
	}
	return p
}

// stats returns a subject's statistics of a slot for the sample a gate
// asks for, or for the subject's forced sample when it has one.
func (run *subjectRun) stats(st *trace.SlotTrace, want trace.Sample) (trace.Stats, trace.Sample) {
	if run.sample != "" {
		want = run.sample
	}
	s, _ := st.Stats(want)
	return s, want
}

// slotAt returns slot s at layer l of run's trace (l ignored for the
// global slots).
func (run *subjectRun) slotAt(l int, s trace.Slot) (*trace.SlotTrace, error) {
	return run.trace.Slot(l, s)
}

// pass sets PASS, or FAIL with the first failed measurement.
func settle(rec *record, failReason func(m *evidence.Measurement) string) {
	for i := range rec.Measurements {
		m := &rec.Measurements[i]
		if m.Pass != nil && !*m.Pass {
			rec.Verdict = evidence.Fail
			first := *m
			rec.FirstOffending = &first
			rec.Reason = failReason(m)
			return
		}
	}
	if len(rec.Measurements) == 0 {
		errorf(rec, "nothing was measured")
		return
	}
	rec.Verdict = evidence.Pass
}

func where(m *evidence.Measurement) string {
	var parts []string
	if m.Layer != nil {
		parts = append(parts, fmt.Sprintf("layer %d", *m.Layer))
	}
	if m.Slot != "" {
		parts = append(parts, string(m.Slot))
	}
	if m.Sample != "" {
		parts = append(parts, m.Sample)
	}
	if m.Positions != "" {
		parts = append(parts, "positions "+string(m.Positions))
	}
	return strings.Join(parts, " ")
}

func judgeRatioBand(p *contracts.RatioBand, num, den *subjectRun, rec *record) {
	band := p.Band
	layers := []int{-1}
	if p.Slot.IsLayer() {
		nl, dl := len(num.trace.Layers), len(den.trace.Layers)
		if nl != dl {
			rec.Verdict, rec.Reason = evidence.Fail, fmt.Sprintf("%s has %d layers and %s has %d: the ratios cannot be paired layer by layer", p.Numerator, nl, p.Denominator, dl)
			return
		}
		if p.ExpectLayers > 0 && nl != p.ExpectLayers {
			rec.Verdict, rec.Reason = evidence.Fail, fmt.Sprintf("the model has %d layers, the gate expects %d", nl, p.ExpectLayers)
			return
		}
		var missing []int
		layers, missing = p.Layers.Select(nl)
		if len(missing) > 0 {
			errorf(rec, "layers %v do not exist in a %d-layer model", missing, nl)
			return
		}
	}
	for _, l := range layers {
		sa, err := num.slotAt(l, p.Slot)
		if err != nil {
			errorf(rec, "%s: %v", p.Numerator, err)
			return
		}
		sb, err := den.slotAt(l, p.Slot)
		if err != nil {
			errorf(rec, "%s: %v", p.Denominator, err)
			return
		}
		a, sampleA := num.stats(sa, p.Sample)
		b, sampleB := den.stats(sb, p.Sample)
		if p.Slot == trace.SlotLogits {
			reads := fmt.Sprintf("a ratio_band over logits in sample %s", trace.SampleAllTokens)
			if (sampleA == trace.SampleAllTokens && !refuseLastLogits(rec, reads, num)) ||
				(sampleB == trace.SampleAllTokens && !refuseLastLogits(rec, reads, den)) {
				return
			}
		}
		at := layerRef(l)
		if sampleA != sampleB || a.Count != b.Count {
			rec.Verdict = evidence.Blocked
			rec.Reason = fmt.Sprintf("%s at %s: %s reports %s (count %d), %s reports %s (count %d): a ratio of statistics over different samples is a methodology error, not a finding",
				p.Slot, layerName(l), p.Numerator, sampleA, a.Count, p.Denominator, sampleB, b.Count)
			return
		}
		rt, err := parity.StatRatio(a, b, p.Stat)
		switch {
		case errors.Is(err, parity.ErrEmptySample):
			errorf(rec, "%s at %s is empty in both traces: there is nothing to compare", p.Slot, layerName(l))
			return
		case errors.Is(err, parity.ErrNoDenominator):
			errorf(rec, "%s(%s) at %s %s is %g: the ratio has no denominator", p.Stat, p.Denominator, layerName(l), p.Slot, rt.Value)
			return
		case err != nil:
			errorf(rec, "%s at %s: %v", p.Slot, layerName(l), err)
			return
		}
		ratio, nonFinite := rt.Value, rt.NonFinite
		m := evidence.Measurement{Layer: at, Slot: p.Slot, Sample: string(sampleA), Pair: []string{p.Numerator, p.Denominator},
			Name: string(p.Stat) + "_ratio", Value: trace.Float(ratio)}.Judge(band)
		if nonFinite > 0 {
			rec.Measurements = append(rec.Measurements, evidence.Measurement{Layer: at, Slot: p.Slot, Sample: string(sampleA),
				Pair: []string{p.Numerator, p.Denominator}, Name: "non_finite_elements", Value: trace.Float(nonFinite)})
		}
		if ratio <= 0 {
			f := false
			m.Pass = &f
		}
		rec.Measurements = append(rec.Measurements, m)
	}
	settle(rec, func(m *evidence.Measurement) string {
		msg := fmt.Sprintf("%s %s/%s = %.6g at %s, outside %s", p.Stat, p.Numerator, p.Denominator, float64(m.Value), where(m), band)
		if math.IsNaN(float64(m.Value)) {
			msg += " (the sample holds NaN or Inf values)"
		}
		return msg
	})
}

func layerRef(l int) *int {
	if l < 0 {
		return nil
	}
	return evidence.Layer(l)
}

func layerName(l int) string {
	if l < 0 {
		return "model level"
	}
	return fmt.Sprintf("layer %d", l)
}

func judgeCountParity(p *contracts.CountParity, a, b *subjectRun, rec *record) {
	na, nb := len(a.trace.Layers), len(b.trace.Layers)
	if na != nb {
		rec.Verdict, rec.Reason = evidence.Fail, fmt.Sprintf("%s has %d layers and %s has %d", p.Subjects[0], na, p.Subjects[1], nb)
		return
	}
	slots := p.Slots
	if len(slots) == 0 {
		slots = trace.LayerSlots()
	}
	samples := p.Samples
	if len(samples) == 0 {
		samples = trace.Samples()
	}
	for _, s := range slots {
		layers := []int{-1}
		if s.IsLayer() {
			layers, _ = contracts.AllLayers.Select(na)
		}
		for _, l := range layers {
			for _, sample := range samples {
				sa, err := a.slotAt(l, s)
				if err != nil {
					errorf(rec, "%s: %v", p.Subjects[0], err)
					return
				}
				sb, _ := b.slotAt(l, s)
				ca, sampleA := a.stats(sa, sample)
				cb, sampleB := b.stats(sb, sample)
				if s == trace.SlotLogits {
					// Both last-position-only would give equal counts of 0: a
					// PASS over logits nobody computed.
					reads := fmt.Sprintf("a count_parity over logits in sample %s", trace.SampleAllTokens)
					if (sampleA == trace.SampleAllTokens && !refuseLastLogits(rec, reads, a)) ||
						(sampleB == trace.SampleAllTokens && !refuseLastLogits(rec, reads, b)) {
						rec.Measurements = nil
						return
					}
				}
				eq := ca.Count == cb.Count
				label := string(sample)
				if sampleA != sampleB {
					label = fmt.Sprintf("%s vs %s", sampleA, sampleB)
				}
				rec.Measurements = append(rec.Measurements, evidence.Measurement{Layer: layerRef(l), Slot: s, Sample: label,
					Pair: []string{p.Subjects[0], p.Subjects[1]}, Name: "count_difference", Value: trace.Float(ca.Count - cb.Count), Band: &trace.Band{}, Pass: &eq})
				if !eq && rec.Reason == "" {
					rec.Reason = fmt.Sprintf("%s at %s (%s): count(%s) = %d, count(%s) = %d", s, layerName(l), label, p.Subjects[0], ca.Count, p.Subjects[1], cb.Count)
				}
			}
		}
	}
	reason := rec.Reason
	settle(rec, func(*evidence.Measurement) string { return reason })
}

func judgeCoverage(p *contracts.Coverage, run *subjectRun, rec *record) {
	nl := len(run.trace.Layers)
	populated := 0
	for l := range nl {
		st, err := run.slotAt(l, p.Slot)
		if err != nil {
			errorf(rec, "%v", err)
			return
		}
		s, sample := run.stats(st, p.Sample)
		ok := s.Count > 0
		if ok {
			populated++
		}
		rec.Measurements = append(rec.Measurements, evidence.Measurement{Layer: evidence.Layer(l), Slot: p.Slot, Sample: string(sample), Subject: p.Subject, Name: "count", Value: trace.Float(s.Count)})
	}
	need := p.MinLayers
	if p.AllLayers {
		need = nl
	}
	ok := populated >= need && nl > 0
	rec.Measurements = append(rec.Measurements, evidence.Measurement{Subject: p.Subject, Slot: p.Slot, Name: "populated_layers", Value: trace.Float(populated),
		Band: &trace.Band{Lo: float64(need), Hi: math.Inf(1)}, Pass: &ok})
	settle(rec, func(*evidence.Measurement) string {
		return fmt.Sprintf("%s is populated on %d of %d layers of %s, need %d", p.Slot, populated, nl, p.Subject, need)
	})
}

func judgeContractValid(c *contracts.Contract, rec *record) {
	findings := contracts.Validate(c)
	var errs []string
	for _, f := range findings {
		if f.Severity == contracts.SeverityError {
			errs = append(errs, f.String())
		}
	}
	ok := len(errs) == 0
	rec.Measurements = append(rec.Measurements, evidence.Measurement{Name: "validation_errors", Value: trace.Float(len(errs)),
		Band: &trace.Band{Lo: 0, Hi: 0}, Pass: &ok})
	settle(rec, func(*evidence.Measurement) string {
		return fmt.Sprintf("%d validation errors:\n%s", len(errs), strings.Join(errs, "\n"))
	})
}
