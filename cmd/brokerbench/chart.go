package main

import (
	"fmt"
	"image/color"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	brokerColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	floorColor  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	palette     = []color.Color{
		color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
		color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
		color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
	}
)

// chart draws, per operation, throughput and p99 latency by concurrency
// (broker next to floor), then brokerd's peak RSS and the throughput ratios.
func (rep report) chart(path string) error {
	var ops []string
	seen := map[string]bool{}
	for _, r := range rep.Rows {
		if !seen[r.Op] {
			seen[r.Op] = true
			ops = append(ops, r.Op)
		}
	}
	concs := rep.Config.Conc
	ticks := make([]plot.Tick, len(concs))
	for i, c := range concs {
		ticks[i] = plot.Tick{Value: float64(i), Label: strconv.Itoa(c)}
	}
	newPlot := func(title, ylabel string) *plot.Plot {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "concurrency"
		p.Y.Label.Text = ylabel
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Min, p.X.Max = -0.2, float64(len(concs)-1)+0.2
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.Left = true
		return p
	}
	addLine := func(p *plot.Plot, label string, c color.Color, dashed bool, y func(row) float64, op string) error {
		var pts plotter.XYs
		for i, conc := range concs {
			if r, ok := rep.find(op, conc); ok {
				pts = append(pts, plotter.XY{X: float64(i), Y: y(r)})
			}
		}
		if len(pts) == 0 {
			return nil
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = c, c
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l, s)
		p.Legend.Add(label, l, s)
		return nil
	}
	var grid [][]*plot.Plot
	for _, op := range ops {
		thr := newPlot(op+": throughput", "requests/s")
		lat := newPlot(op+": p99 latency", "ms")
		for _, side := range []struct {
			name   string
			c      color.Color
			dashed bool
			s      func(row) stats
		}{{"broker", brokerColor, false, func(r row) stats { return r.Broker }}, {"floor (direct Vault)", floorColor, true, func(r row) stats { return r.Floor }}} {
			if err := addLine(thr, side.name, side.c, side.dashed, func(r row) float64 { return side.s(r).Throughput }, op); err != nil {
				return err
			}
			if err := addLine(lat, side.name, side.c, side.dashed, func(r row) float64 { return float64(side.s(r).P99) / 1e6 }, op); err != nil {
				return err
			}
		}
		grid = append(grid, []*plot.Plot{thr, lat})
	}
	rss := newPlot("brokerd peak RSS (highest over operations)", "MB")
	var pts plotter.XYs
	for i, conc := range concs {
		var peak int64
		for _, r := range rep.Rows {
			if r.Conc == conc {
				peak = max(peak, r.RSS)
			}
		}
		pts = append(pts, plotter.XY{X: float64(i), Y: mb(peak)})
	}
	bars, err := plotter.NewBarChart(valuesOf(pts), vg.Points(30))
	if err != nil {
		return err
	}
	bars.Color = brokerColor
	rss.Add(bars)
	limit := plotter.NewFunction(func(float64) float64 { return 150 })
	limit.Color, limit.Dashes = floorColor, []vg.Length{vg.Points(4), vg.Points(3)}
	rss.Add(limit)
	rss.Legend.Add("target < 150 MB", limit)
	rss.Y.Max = 160
	ratio := newPlot("throughput broker / floor", "ratio")
	for i, op := range []string{"create", "get", "rotate", "provision1", "provision5", "provision20", "evaluation"} {
		if !seen[op] {
			continue
		}
		if err := addLine(ratio, op, palette[i%len(palette)], false, row.Ratio, op); err != nil {
			return err
		}
	}
	target := plotter.NewFunction(func(float64) float64 { return 0.85 })
	target.Color, target.Dashes = color.Black, []vg.Length{vg.Points(4), vg.Points(3)}
	ratio.Add(target)
	ratio.Legend.Add("target 0.85", target)
	ratio.Y.Max = 1.3
	ratio.Legend.Left = false
	ratio.Legend.Top = false
	grid = append([][]*plot.Plot{{rss, ratio}}, grid...)

	const cellW, cellH = 7.0 * vg.Inch, 3.0 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(2*cellW, vg.Length(len(grid))*cellH), vgimg.UseDPI(72))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(grid), Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 4,
		PadTop: vg.Inch / 4, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j := range grid[i] {
			grid[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write chart: %w", err)
	}
	return f.Close()
}

func valuesOf(pts plotter.XYs) plotter.Values {
	v := make(plotter.Values, len(pts))
	for i, p := range pts {
		v[i] = p.Y
	}
	return v
}
