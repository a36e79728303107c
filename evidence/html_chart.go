package evidence

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/falsify/falsify/trace"
)

// LayerChart is a line chart of values per layer: one line per series,
// the layer index on the x axis. The HTML report draws one for every gate
// with per-layer measurements, and `falsify diff --plot` stacks several.
type LayerChart struct {
	Title  string
	YLabel string
	// LogY draws the y axis on a log scale; values <= 0 (exact agreement)
	// cannot be placed on it and are left out, which the legend says.
	LogY   bool
	Series []ChartSeries
	// Band, when set, is drawn as dashed lines at its finite ends.
	Band *trace.Band
}

// ChartSeries is one line: Y[i] at layer X[i]. NaN and infinite values
// are left out (a gap, never a zero that looks like data). Fail, when
// set, marks the points outside their band: they are drawn circled in
// red, so a failing layer is visible at a glance.
type ChartSeries struct {
	Name string
	X, Y []float64
	Fail []bool
}

// palette holds ten colours that stay apart (matplotlib's tab10), one per
// capture slot.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// failColor circles the points outside their band.
var failColor = color.RGBA{200, 0, 0, 255}

// plot builds the gonum plot of c and its legend, which is drawn beside
// the plot (inside it, it would hide the lines).
func (c *LayerChart) plot() (*plot.Plot, *plot.Legend, error) {
	p := plot.New()
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(9)
	p.Title.Text = c.Title
	p.X.Label.Text = "layer"
	p.Y.Label.Text = c.YLabel
	p.Add(plotter.NewGrid())
	logY := c.LogY && c.hasPositive()
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = decadeTicks{}
	} else {
		p.Y.Tick.Marker = preciseTicks{}
	}
	p.X.Tick.Marker = integerTicks{}
	// The x range covers every layer, also where values were left out.
	p.X.Min, p.X.Max = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, x := range s.X {
			p.X.Min, p.X.Max = math.Min(p.X.Min, x), math.Max(p.X.Max, x)
		}
	}
	if p.X.Min > p.X.Max {
		p.X.Min, p.X.Max = 0, 1
	}
	dropped, failedOut := 0, 0
	var failing plotter.XYs
	for i, s := range c.Series {
		var pts plotter.XYs
		for j := range min(len(s.X), len(s.Y)) {
			y := s.Y[j]
			fail := j < len(s.Fail) && s.Fail[j]
			if math.IsNaN(y) || math.IsInf(y, 0) || (logY && y <= 0) {
				dropped++
				if fail {
					failedOut++
				}
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: y})
			if fail {
				failing = append(failing, plotter.XY{X: s.X[j], Y: y})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, nil, fmt.Errorf("chart %q series %q: %w", c.Title, s.Name, err)
		}
		col := palette[i%len(palette)]
		line.Color, points.Color = col, col
		line.Width = vg.Points(1.5)
		if i >= len(palette) {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2)
		p.Add(line, points)
		leg.Add(s.Name, line, points)
	}
	if c.Band != nil {
		for _, end := range []float64{c.Band.Lo, c.Band.Hi} {
			y := float64(end)
			if math.IsInf(y, 0) || math.IsNaN(y) || (logY && y <= 0) {
				continue
			}
			// Keep the band in view even where every value is far inside.
			p.Y.Min, p.Y.Max = math.Min(p.Y.Min, y), math.Max(p.Y.Max, y)
			l := plotter.NewFunction(func(float64) float64 { return y })
			l.Color = color.RGBA{200, 0, 0, 255}
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			p.Add(l)
		}
		leg.Add("band "+c.Band.String(), bandThumb{})
	}
	if len(failing) > 0 {
		marks, err := plotter.NewScatter(failing)
		if err != nil {
			return nil, nil, fmt.Errorf("chart %q failing points: %w", c.Title, err)
		}
		marks.Shape = draw.RingGlyph{}
		marks.Radius = vg.Points(5)
		marks.Color = failColor
		p.Add(marks)
		leg.Add(fmt.Sprintf("outside the band (%d)", len(failing)), marks)
	}
	if failedOut > 0 {
		leg.Add(fmt.Sprintf("(%d failing values not finite:", failedOut))
		leg.Add(" not drawn)")
	}
	if dropped > 0 && logY {
		leg.Add(fmt.Sprintf("(%d values <= 0 or", dropped))
		leg.Add(" not finite left out)")
	}
	return p, &leg, nil
}

func (c *LayerChart) hasPositive() bool {
	for _, s := range c.Series {
		for _, y := range s.Y {
			if y > 0 && !math.IsInf(y, 1) {
				return true
			}
		}
	}
	return false
}

// bandThumb draws the band's legend entry as a dashed red line.
type bandThumb struct{}

func (bandThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle{Color: color.RGBA{200, 0, 0, 255}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}},
		c.Min.X, y, c.Max.X, y)
}

// decadeTicks labels the powers of ten of a log axis (1e-05, not the
// 9.999999e-06 that float formatting of 10^k gives) and, when the range
// spans less than two decades, the 2x and 5x steps as well.
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > 0) {
		return nil
	}
	k0, k1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	labelSteps := k1-k0 < 3
	var ticks []plot.Tick
	for k := k0; k <= k1; k++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, float64(k))
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (labelSteps && (m == 2 || m == 5)) {
				t.Label = strconv.Itoa(m) + "e" + strconv.Itoa(k)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// preciseTicks are gonum's default ticks labelled with enough digits to
// tell apart values that differ in the fourth decimal (std ratios near 1).
type preciseTicks struct{}

func (preciseTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 6, 64)
		}
	}
	return ticks
}

// integerTicks labels whole layers only.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/12))
	var ticks []plot.Tick
	for x := math.Ceil(lo); x <= hi; x += step {
		ticks = append(ticks, plot.Tick{Value: x, Label: fmt.Sprintf("%d", int(x))})
	}
	return ticks
}

// WriteCharts draws charts stacked vertically, each width x height, as
// "svg" or "png".
func WriteCharts(w io.Writer, format string, charts []LayerChart, width, height vg.Length) error {
	if len(charts) == 0 {
		return fmt.Errorf("evidence: no charts to draw")
	}
	plots := make([][]*plot.Plot, len(charts))
	legends := make([]*plot.Legend, len(charts))
	for i := range charts {
		p, leg, err := charts[i].plot()
		if err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
		plots[i], legends[i] = []*plot.Plot{p}, leg
	}
	total := height * vg.Length(len(charts))
	var canvas vg.CanvasWriterTo
	switch strings.ToLower(format) {
	case "svg":
		canvas = vgsvg.New(width, total)
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, total), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))}
	default:
		return fmt.Errorf("evidence: chart format %q (svg, png)", format)
	}
	dc := draw.New(canvas)
	// The right strip holds the legends.
	legendW := vg.Length(math.Min(float64(2.2*vg.Inch), float64(width)/3))
	plotArea := draw.Crop(dc, 0, -legendW, 0, 0)
	tiles := draw.Tiles{Rows: len(charts), Cols: 1, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	cells := plot.Align(plots, tiles, plotArea)
	for i := range plots {
		plots[i][0].Draw(cells[i][0])
		cell := cells[i][0]
		strip := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: cell.Max.X + vg.Millimeter*2, Y: cell.Min.Y},
			Max: vg.Point{X: dc.Max.X, Y: cell.Max.Y - vg.Millimeter*6}}}
		legends[i].Draw(strip)
	}
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("evidence: write %s chart: %w", format, err)
	}
	return nil
}

// chartSVG renders one chart as SVG bytes.
func chartSVG(c LayerChart, width, height vg.Length) ([]byte, error) {
	var b bytes.Buffer
	if err := WriteCharts(&b, "svg", []LayerChart{c}, width, height); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
