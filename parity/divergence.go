package parity

import (
	"fmt"
	"math"

	"github.com/falsify/falsify/trace"
)

// Divergence is the first site, in forward order, whose metric crosses a
// threshold, with its neighbours so a reader sees the step.
type Divergence struct {
	Metric trace.Metric
	Limit  float64
	SlotComparison
	Value float64
	// Before and After are the nearest non-empty sites before and after it
	// in forward order (nil at either end).
	Before, After *SlotComparison
}

func (d *Divergence) String() string {
	s := fmt.Sprintf("%s: %s %.4g crosses %.4g", d.Site, d.Metric, d.Value, d.Limit)
	if d.Before != nil {
		s += fmt.Sprintf(" (before: %s %.4g", d.Before.Site, d.Before.Value(d.Metric))
	} else {
		s += " (before: none"
	}
	if d.After != nil {
		s += fmt.Sprintf("; after: %s %.4g)", d.After.Site, d.After.Value(d.Metric))
	} else {
		s += "; after: none)"
	}
	return s
}

// FirstDivergence returns the first non-empty site of sites (in the order
// given: Comparison.Sites, or Split.Local) whose metric m crosses limit,
// or nil when none does.
func FirstDivergence(sites []SlotComparison, m trace.Metric, limit float64) *Divergence {
	for i := range sites {
		s := &sites[i]
		if s.Empty || !m.Crosses(s.Value(m), limit) {
			continue
		}
		d := &Divergence{Metric: m, Limit: limit, SlotComparison: *s, Value: s.Value(m)}
		for j := i - 1; j >= 0; j-- {
			if !sites[j].Empty {
				d.Before = &sites[j]
				break
			}
		}
		for j := i + 1; j < len(sites); j++ {
			if !sites[j].Empty {
				d.After = &sites[j]
				break
			}
		}
		return d
	}
	return nil
}

// FirstAboveFloor is FirstDivergence with a per-site limit: the first site
// whose metric is worse than factor times the noise floor's value at the
// same site (and worse than limit, which keeps a zero floor from flagging
// every rounding). floor must come from Compare over the same sites (a
// NoiseFloor); factor is applied as a multiplier for lower-is-better
// metrics and, in dB, as an offset of 10*log10(factor) for SQNR. Cosine
// compares 1-cosine against factor*(1-floor).
func FirstAboveFloor(sites []SlotComparison, floor *Comparison, m trace.Metric, limit, factor float64) (*Divergence, error) {
	if floor == nil || len(floor.Sites) != len(sites) {
		return nil, fmt.Errorf("parity: noise floor has %d sites, the comparison %d", siteCount(floor), len(sites))
	}
	for i := range sites {
		if sites[i].Site != floor.Sites[i].Site {
			return nil, fmt.Errorf("parity: noise floor site %s does not match %s", floor.Sites[i].Site, sites[i].Site)
		}
		lim := floorLimit(m, floor.Sites[i].Value(m), limit, factor)
		if sites[i].Empty || !m.Crosses(sites[i].Value(m), lim) {
			continue
		}
		d := FirstDivergence(sites[i:], m, lim)
		if i > 0 {
			for j := i - 1; j >= 0; j-- {
				if !sites[j].Empty {
					d.Before = &sites[j]
					break
				}
			}
		}
		return d, nil
	}
	return nil, nil
}

// floorLimit is the stricter-of limit and factor x floor, in the metric's
// own direction.
func floorLimit(m trace.Metric, floor, limit, factor float64) float64 {
	if math.IsNaN(floor) {
		return limit
	}
	switch m {
	case trace.MetricCosine:
		return math.Min(limit, 1-factor*(1-floor))
	case trace.MetricSQNR:
		return math.Min(limit, floor-10*math.Log10(factor))
	}
	return math.Max(limit, factor*floor)
}

func siteCount(c *Comparison) int {
	if c == nil {
		return 0
	}
	return len(c.Sites)
}
