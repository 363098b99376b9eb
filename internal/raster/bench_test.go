package raster

import (
	"image"
	"image/draw"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/vector"

	"github.com/orbitalfoundation/orbital/internal/abi"
)

// The fill-rate benchmarks report Mpixels/s and Mtriangles/s beside two
// floors: copy of the same bytes (memory bandwidth: no rasterizer writes
// pixels faster) and golang.org/x/image/vector, a reference Go software
// rasterizer (antialiased coverage, used here only).

const benchSide = 1024

func fullQuad(shade bool, tex bool) []Vertex {
	c := func(x, y float32, r, g, b float32, u, v float32) Vertex {
		if !shade {
			r, g, b = 0.2, 0.6, 0.9
		}
		return Vertex{X: x, Y: y, Z: 0.5, W: 1, R: r, G: g, B: b, A: 1, U: u, V: v}
	}
	s := float32(benchSide)
	a, b, cc, d := c(0, 0, 1, 0, 0, 0, 0), c(s, 0, 0, 1, 0, 1, 0), c(s, s, 0, 0, 1, 1, 1), c(0, s, 1, 1, 0, 0, 1)
	_ = tex
	return []Vertex{a, b, cc, a, cc, d}
}

func benchFill(b *testing.B, shade, tex, depth bool) {
	s := NewSet(Limits{}, nil)
	flags := uint32(0)
	if depth {
		flags = abi.RasterDepth32F
	}
	sf, _ := s.Create(benchSide, benchSide, flags)
	var e Encoder
	if depth {
		e.Depth(abi.RasterLEqual, true)
	}
	if tex {
		t, _ := s.Create(256, 256, 0)
		for i := range t.back {
			t.back[i] = byte(i * 7)
		}
		e.Texture(t.ID(), abi.RasterLinear, abi.RasterRepeat)
	}
	e.Triangles(fullQuad(shade, tex))
	cmds := e.Bytes()
	b.SetBytes(benchSide * benchSide * 4)
	b.ResetTimer()
	for b.Loop() {
		if err := s.Submit(sf.ID(), cmds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchSide*benchSide/b.Elapsed().Seconds()/1e6, "Mpix/s")
}

// BenchmarkFillLarge: two triangles covering 1024×1024.
func BenchmarkFillLarge(b *testing.B) {
	b.Run("flat", func(b *testing.B) { benchFill(b, false, false, false) })
	b.Run("shaded", func(b *testing.B) { benchFill(b, true, false, false) })
	b.Run("shaded+depth", func(b *testing.B) { benchFill(b, true, false, true) })
	b.Run("textured+depth", func(b *testing.B) { benchFill(b, true, true, true) })
}

// smallTriangles are n triangles of about 8 pixels each, scattered.
func smallTriangles(n int, shade bool) []Vertex {
	r := rand.New(rand.NewPCG(5, 6))
	v := make([]Vertex, 0, 3*n)
	for range n {
		x, y := float32(r.Float64()*(benchSide-8)), float32(r.Float64()*(benchSide-8))
		col := float32(0.5)
		if shade {
			col = float32(r.Float64())
		}
		v = append(v, Vertex{X: x, Y: y, W: 1, R: col, G: 1, B: 0, A: 1}, Vertex{X: x + 4, Y: y, W: 1, R: 1, G: col, A: 1}, Vertex{X: x, Y: y + 4, W: 1, B: 1, R: col, A: 1})
	}
	return v
}

// BenchmarkFillSmall: 10,000 triangles of ~8 pixels per list.
func BenchmarkFillSmall(b *testing.B) {
	const n = 10000
	for _, shade := range []bool{false, true} {
		name := "flat"
		if shade {
			name = "shaded"
		}
		b.Run(name, func(b *testing.B) {
			s := NewSet(Limits{}, nil)
			sf, _ := s.Create(benchSide, benchSide, 0)
			var e Encoder
			e.Triangles(smallTriangles(n, shade))
			cmds := e.Bytes()
			for b.Loop() {
				if err := s.Submit(sf.ID(), cmds); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds()/1e6, "Mtri/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/tri")
		})
	}
}

// BenchmarkFillFloorCopy: copy of one 1024×1024 RGBA frame — the memory
// bandwidth floor of the large fills.
func BenchmarkFillFloorCopy(b *testing.B) {
	src, dst := make([]byte, benchSide*benchSide*4), make([]byte, benchSide*benchSide*4)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(dst, src)
	}
	b.ReportMetric(float64(b.N)*benchSide*benchSide/b.Elapsed().Seconds()/1e6, "Mpix/s")
}

// BenchmarkFillReferenceVector: golang.org/x/image/vector filling the
// same shapes (coverage rasterization, then a uniform-colour draw).
func BenchmarkFillReferenceVector(b *testing.B) {
	dst := image.NewRGBA(image.Rect(0, 0, benchSide, benchSide))
	src := image.NewUniform(image.Black)
	b.Run("large", func(b *testing.B) {
		z := vector.NewRasterizer(benchSide, benchSide)
		b.SetBytes(benchSide * benchSide * 4)
		for b.Loop() {
			z.Reset(benchSide, benchSide)
			z.MoveTo(0, 0)
			z.LineTo(benchSide, 0)
			z.LineTo(benchSide, benchSide)
			z.LineTo(0, benchSide)
			z.ClosePath()
			z.DrawOp = draw.Src
			z.Draw(dst, dst.Bounds(), src, image.Point{})
		}
		b.ReportMetric(float64(b.N)*benchSide*benchSide/b.Elapsed().Seconds()/1e6, "Mpix/s")
	})
	b.Run("small", func(b *testing.B) {
		const n = 10000
		v := smallTriangles(n, false)
		z := vector.NewRasterizer(8, 8)
		for b.Loop() {
			for k := 0; k < len(v); k += 3 {
				// Each small triangle in its own 8×8 rasterizer, drawn at its place.
				x0, y0 := int(v[k].X), int(v[k].Y)
				z.Reset(8, 8)
				z.MoveTo(v[k].X-float32(x0), v[k].Y-float32(y0))
				z.LineTo(v[k+1].X-float32(x0), v[k+1].Y-float32(y0))
				z.LineTo(v[k+2].X-float32(x0), v[k+2].Y-float32(y0))
				z.ClosePath()
				z.DrawOp = draw.Src
				z.Draw(dst, image.Rect(x0, y0, x0+8, y0+8), src, image.Point{})
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds()/1e6, "Mtri/s")
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/n, "ns/tri")
	})
}
