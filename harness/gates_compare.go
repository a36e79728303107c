package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// judgeMetric compares A with the reference B at the selected sites and
// judges each value against band.
func judgeMetric(p *contracts.Compare, band trace.Band, a, b *subjectRun, rec *record) {
	pos := p.Positions
	if pos == "" {
		pos = trace.PositionsLast
	}
	if a.sample != "" || b.sample != "" {
		if a.sample != b.sample {
			rec.Verdict, rec.Reason = evidence.Blocked, fmt.Sprintf("%s is forced to sample %q and %s to %q: vectors of different samples cannot be compared", p.A, a.sample, p.B, b.sample)
			return
		}
	}
	slots := p.Slots
	if len(slots) == 0 {
		slots = trace.LayerSlots()
	}
	// The logits site only when the gate reads it: a trace with the last
	// position's logits compares at every position elsewhere.
	compare := parity.CompareExceptLogits
	if slices.Contains(slots, trace.SlotLogits) {
		compare = parity.Compare
	}
	cmp, err := compare(a.trace, b.trace, pos)
	if err != nil {
		if blockLastLogits(rec, err, p.A, p.B, fmt.Sprintf("a %s over logits at positions %s", p.Metric, pos)) {
			return
		}
		if errors.Is(err, parity.ErrMismatch) {
			rec.Verdict, rec.Reason = evidence.Blocked, err.Error()
			return
		}
		errorf(rec, "%v", err)
		return
	}
	layers, missing := p.Layers.Select(cmp.NumLayers)
	if !p.Layers.All && len(p.Layers.List) == 0 {
		layers, missing = contracts.AllLayers.Select(cmp.NumLayers)
	}
	if len(missing) > 0 {
		errorf(rec, "layers %v do not exist in a %d-layer model", missing, cmp.NumLayers)
		return
	}
	metric := p.Metric
	// Sites in forward order: layer slots layer by layer, then the global ones.
	for _, site := range cmp.Sites {
		if !slices.Contains(slots, site.Slot) {
			continue
		}
		if site.Layer >= 0 && !slices.Contains(layers, site.Layer) {
			continue
		}
		if site.Empty {
			continue
		}
		v := site.Value(metric)
		rec.Measurements = append(rec.Measurements, evidence.Measurement{Layer: layerRef(site.Layer), Slot: site.Slot, Positions: pos,
			Pair: []string{p.A, p.B}, Name: string(metric), Value: trace.Float(v)}.Judge(band))
	}
	settle(rec, func(m *evidence.Measurement) string {
		return fmt.Sprintf("%s(%s, %s) = %.4g at %s, outside %s", metric, p.A, p.B, float64(m.Value), where(m), band)
	})
}

// judgeLogits compares the next-token distributions of A and the reference
// B at the selected positions: top-1 agreement rate, KL(B || A) (the
// largest over positions is judged; mean and 99th percentile are
// recorded), and the mean top-k overlap.
func judgeLogits(p *contracts.Logits, a, b *subjectRun, rec *record) {
	pos := p.Positions
	if pos == "" {
		pos = trace.PositionsLast
	}
	topk := max(p.TopK, 1)
	lm, err := parity.CompareLogits(a.trace, b.trace, pos, topk)
	if err != nil {
		if blockLastLogits(rec, err, p.A, p.B, fmt.Sprintf("a logits gate at positions %s", pos)) {
			return
		}
		if errors.Is(err, parity.ErrMismatch) {
			rec.Verdict, rec.Reason = evidence.Blocked, err.Error()
		} else {
			errorf(rec, "%v", err)
		}
		return
	}
	pair := []string{p.A, p.B}
	add := func(name string, v float64, band *trace.Band) {
		m := evidence.Measurement{Slot: "logits", Positions: pos, Pair: pair, Name: name, Value: trace.Float(v)}
		if band != nil {
			m = m.Judge(*band)
		}
		rec.Measurements = append(rec.Measurements, m)
	}
	inf := math.Inf(1)
	if p.Top1Min != nil {
		add("top1_agreement", lm.Top1Agreement, &trace.Band{Lo: *p.Top1Min, Hi: inf})
	} else {
		add("top1_agreement", lm.Top1Agreement, nil)
	}
	if p.KLMax != nil {
		add("kl_max", lm.KLD.Max, &trace.Band{Lo: math.Inf(-1), Hi: *p.KLMax})
	} else {
		add("kl_max", lm.KLD.Max, nil)
	}
	add("kl_mean", lm.KLD.Mean, nil)
	add("kl_p99", lm.KLD.P99, nil)
	if p.TopKOverlapMin != nil {
		add(fmt.Sprintf("top%d_overlap", topk), lm.TopKOverlap, &trace.Band{Lo: *p.TopKOverlapMin, Hi: inf})
	}
	settle(rec, func(m *evidence.Measurement) string {
		msg := fmt.Sprintf("%s(%s, %s) = %.4g, outside %s", m.Name, p.A, p.B, float64(m.Value), m.Band)
		for i, f := range lm.Flips {
			if i == 0 {
				msg += "; top-1 differs at"
			}
			msg += fmt.Sprintf(" position %d (%d vs %d)", f.Position, f.TokenA, f.TokenB)
		}
		return msg
	})
}

// judgeBitExact requires every value of the compared traces (or of the
// listed slots) to have the same bits.
func judgeBitExact(p *contracts.BitExact, a, b *subjectRun, rec *record) {
	// BitDiff compares every position where both traces kept them, else
	// the last: logits of the last position only beside every other
	// slot's every position would compare less than the gate says.
	if (len(p.Slots) == 0 || slices.Contains(p.Slots, trace.SlotLogits)) && a.trace.HasAllPositions() && b.trace.HasAllPositions() &&
		!refuseLastLogits(rec, "a bit_exact gate over the logits of every position the traces keep", a, b) {
		return
	}
	diffs, compared, first := parity.BitDiff(a.trace, b.trace, p.Slots)
	ok := diffs == 0 && compared > 0
	rec.Measurements = append(rec.Measurements,
		evidence.Measurement{Pair: []string{p.A, p.B}, Name: "values_compared", Value: trace.Float(compared)},
		evidence.Measurement{Pair: []string{p.A, p.B}, Name: "values_differing", Value: trace.Float(diffs), Band: &trace.Band{}, Pass: &ok})
	if compared == 0 {
		errorf(rec, "no values to compare: %s", first)
		return
	}
	settle(rec, func(*evidence.Measurement) string {
		return fmt.Sprintf("%d of %d values differ between %s and %s; first at %s", diffs, compared, p.A, p.B, first)
	})
}

// judgeDeterministic re-runs the subject Runs times at its own thread
// count and once at each listed thread count; every trace must be
// bit-identical to the first.
func (r *Runner) judgeDeterministic(ctx context.Context, p *contracts.Deterministic, run *subjectRun, rec *record) {
	if run.model == nil {
		errorf(rec, "subject %s is not a run of the embedded engine (a golden, a trace file or another engine's trace cannot be re-run here)", p.Subject)
		return
	}
	type variant struct {
		label   string
		threads int
	}
	var variants []variant
	for i := range p.Runs {
		variants = append(variants, variant{fmt.Sprintf("run %d", i+1), run.opts.Threads})
	}
	for _, t := range p.Threads {
		variants = append(variants, variant{fmt.Sprintf("%d threads", t), t})
	}
	var ref *trace.Trace
	for i, v := range variants {
		if err := ctx.Err(); err != nil {
			errorf(rec, "cancelled: %v", err)
			return
		}
		opts := run.opts
		opts.Threads = v.threads
		// The re-runs are the gate's own and it compares every value, so
		// they compute every position's logits whatever the subject's run
		// did (a `trace: false` subject's run computes the last only).
		opts.AllLogits = true
		// Each re-run is a whole forward pass: on a 7B model, minutes.
		how := v.label
		if !strings.HasSuffix(how, " threads") {
			how = fmt.Sprintf("%s, %d threads", v.label, v.threads) // 0: all cores
		}
		r.logf("deterministic: forward pass %d/%d of %s (%s, %d tokens) ...", i+1, len(variants), p.Subject, how, len(run.trace.Tokens))
		start := time.Now()
		tr, err := engine.Run(run.model, run.trace.Tokens, opts)
		r.logf("deterministic: forward pass %d/%d done in %.1fs", i+1, len(variants), time.Since(start).Seconds())
		if err != nil {
			errorf(rec, "%s %s: %v", p.Subject, v.label, err)
			return
		}
		if ref == nil {
			// Run 1 is what every re-run is compared with, the logits of
			// every position included.
			if !refuseLastLogits(rec, "a deterministic gate (every value of the forward, every position's logits included)",
				&subjectRun{name: p.Subject, trace: tr}) {
				return
			}
			ref = tr
			continue
		}
		diffs, compared, first := parity.BitDiff(ref, tr, nil)
		ok := diffs == 0
		rec.Measurements = append(rec.Measurements, evidence.Measurement{Subject: p.Subject, Variant: v.label,
			Name: "values_differing", Value: trace.Float(diffs), Band: &trace.Band{}, Pass: &ok})
		if !ok && rec.Reason == "" {
			rec.Reason = fmt.Sprintf("%s differs from run 1 in %d of %d values; first at %s", v.label, diffs, compared, first)
		}
	}
	reason := rec.Reason
	settle(rec, func(*evidence.Measurement) string { return reason })
}

// defaultCommandTimeout bounds a command gate without its own timeout.
const defaultCommandTimeout = 10 * time.Minute

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
