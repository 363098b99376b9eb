package raster

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// newSurface makes a set with one w×h texture surface (single-buffered,
// so Submit's result is visible in back at once).
func newSurface(t testing.TB, w, h int, flags uint32) (*Set, *Surface) {
	t.Helper()
	s := NewSet(Limits{}, nil)
	sf, err := s.Create(w, h, flags)
	if err != nil {
		t.Fatal(err)
	}
	return s, sf
}

func submit(t testing.TB, s *Set, sf *Surface, e *Encoder) {
	t.Helper()
	if err := s.Submit(sf.ID(), e.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func px(sf *Surface, x, y int) [4]byte {
	o := (y*sf.w + x) * 4
	return [4]byte{sf.back[o], sf.back[o+1], sf.back[o+2], sf.back[o+3]}
}

func vtx(x, y float32) Vertex { return Vertex{X: x, Y: y, Z: 0, W: 1, R: 1, G: 1, B: 1, A: 1} }

// refInside is the reference coverage test: the pixel centre (px, py) is
// inside when it is strictly inside after nudging it by (ε, ε²) — which is
// the top-left rule — with positions snapped to 1/256 pixel as the
// rasterizer does. Written independently of edge/span.
func refInside(v [3][2]float64, px, py float64) bool {
	snap := func(f float64) float64 { return math.Round(f*256) / 256 }
	var p [3][2]float64
	for i := range v {
		p[i] = [2]float64{snap(v[i][0]), snap(v[i][1])}
	}
	area := (p[1][0]-p[0][0])*(p[2][1]-p[0][1]) - (p[1][1]-p[0][1])*(p[2][0]-p[0][0])
	if area == 0 {
		return false
	}
	if area < 0 {
		p[1], p[2] = p[2], p[1]
	}
	for k := 0; k < 3; k++ {
		a, b := p[k], p[(k+1)%3]
		e := (b[0]-a[0])*(py-a[1]) - (b[1]-a[1])*(px-a[0])
		A, B := -(b[1] - a[1]), b[0]-a[0]
		s := e
		if s == 0 {
			s = A
		}
		if s == 0 {
			s = B
		}
		if s <= 0 {
			return false
		}
	}
	return true
}

// TestFillRuleNoGapsNoOverlap tiles a rectangle with triangles whose
// shared vertices sit at jittered sub-pixel positions (some exactly on
// pixel centres and edges) and draws them additively: every pixel whose
// centre is inside the rectangle is drawn exactly once.
func TestFillRuleNoGapsNoOverlap(t *testing.T) {
	const W, H, N = 96, 80, 8
	r := rand.New(rand.NewPCG(1, 2))
	var grid [N + 1][N + 1][2]float32
	for i := 0; i <= N; i++ {
		for j := 0; j <= N; j++ {
			x, y := 8+float32(i)*10, 4+float32(j)*9
			if i > 0 && i < N && j > 0 && j < N {
				switch r.IntN(3) {
				case 0: // on a pixel centre
					x, y = float32(int(x))+0.5, float32(int(y))+0.5
				case 1: // random sub-pixel
					x += float32(r.Float64()*6 - 3)
					y += float32(r.Float64()*6 - 3)
				}
			}
			grid[i][j] = [2]float32{x, y}
		}
	}
	s, sf := newSurface(t, W, H, 0)
	var e Encoder
	e.Blend(abi.RasterBlendAdd)
	var v []Vertex
	one := float32(1) / 255
	add := func(p [2]float32) { v = append(v, Vertex{X: p[0], Y: p[1], W: 1, R: one, G: one, B: one, A: 1}) }
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			a, b, c, d := grid[i][j], grid[i+1][j], grid[i+1][j+1], grid[i][j+1]
			if (i+j)%2 == 0 { // mix windings and diagonals
				for _, p := range [][2]float32{a, b, c, a, c, d} {
					add(p)
				}
			} else {
				for _, p := range [][2]float32{b, a, d, b, d, c} {
					add(p)
				}
			}
		}
	}
	e.Triangles(v)
	submit(t, s, sf, &e)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			cx, cy := float64(x)+0.5, float64(y)+0.5
			want := byte(0)
			if cx > 8 && cx < 8+N*10 && cy > 4 && cy < 4+N*9 {
				want = 1
			}
			if got := px(sf, x, y)[0]; got != want {
				t.Fatalf("pixel (%d,%d) drawn %d times, want %d", x, y, got, want)
			}
		}
	}
}

// TestCoverageMatchesReference draws random triangles (sub-pixel, both
// windings, slivers, some on pixel centres) and compares coverage with
// refInside pixel by pixel: no tolerance.
func TestCoverageMatchesReference(t *testing.T) {
	const W, H = 64, 48
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 300; n++ {
		var tri [3][2]float64
		for k := range tri {
			tri[k] = [2]float64{r.Float64()*80 - 8, r.Float64()*64 - 8}
			if r.IntN(4) == 0 {
				tri[k] = [2]float64{math.Floor(tri[k][0]) + 0.5, math.Floor(tri[k][1])}
			}
		}
		s, sf := newSurface(t, W, H, 0)
		var e Encoder
		e.Triangles([]Vertex{vtx(float32(tri[0][0]), float32(tri[0][1])), vtx(float32(tri[1][0]), float32(tri[1][1])), vtx(float32(tri[2][0]), float32(tri[2][1]))})
		submit(t, s, sf, &e)
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				want := refInside(tri, float64(x)+0.5, float64(y)+0.5)
				if got := px(sf, x, y)[3] == 255; got != want {
					t.Fatalf("triangle %d %v: pixel (%d,%d) covered=%v, reference %v", n, tri, x, y, got, want)
				}
			}
		}
	}
}

// TestClipEveryEdge: triangles crossing each surface edge and a scissor
// draw exactly the reference pixels inside the clip rectangle.
func TestClipEveryEdge(t *testing.T) {
	const W, H = 40, 30
	tris := [][3][2]float64{
		{{-20, 5}, {15, 10}, {-5, 25}},     // left
		{{30, -10}, {60, 12}, {25, 20}},    // right and top
		{{5, 20}, {35, 50}, {-30, 60}},     // bottom
		{{-1e5, -1e5}, {1e5, 0}, {0, 1e5}}, // enormous
	}
	scissors := [][4]int32{{0, 0, 0, 0}, {5, 4, 20, 15}, {-10, -10, 25, 100}}
	for _, sc := range scissors {
		for i, tri := range tris {
			s, sf := newSurface(t, W, H, 0)
			var e Encoder
			e.Scissor(sc[0], sc[1], sc[2], sc[3])
			e.Triangles([]Vertex{vtx(float32(tri[0][0]), float32(tri[0][1])), vtx(float32(tri[1][0]), float32(tri[1][1])), vtx(float32(tri[2][0]), float32(tri[2][1]))})
			submit(t, s, sf, &e)
			cx0, cy0, cx1, cy1 := 0, 0, W, H
			if sc != [4]int32{} {
				cx0, cy0 = clampInt(int(sc[0]), 0, W), clampInt(int(sc[1]), 0, H)
				cx1, cy1 = clampInt(int(sc[0]+sc[2]), 0, W), clampInt(int(sc[1]+sc[3]), 0, H)
			}
			for y := 0; y < H; y++ {
				for x := 0; x < W; x++ {
					want := x >= cx0 && x < cx1 && y >= cy0 && y < cy1 && refInside(tri, float64(x)+0.5, float64(y)+0.5)
					if got := px(sf, x, y)[3] == 255; got != want {
						t.Fatalf("scissor %v triangle %d: pixel (%d,%d) covered=%v, want %v", sc, i, x, y, got, want)
					}
				}
			}
		}
	}
}

// TestPerspectiveCorrectUV draws a quad receding in depth with a
// horizontal gradient texture and checks every pixel's u against the
// analytic perspective-correct value (tolerance: 2 of 255). Affine
// interpolation would be off by far more, which the test also checks.
func TestPerspectiveCorrectUV(t *testing.T) {
	const W, H = 128, 96
	s := NewSet(Limits{}, nil)
	tex, _ := s.Create(256, 1, 0)
	for i := 0; i < 256; i++ {
		copy(tex.back[i*4:], []byte{byte(i), 0, 0, 255})
	}
	dst, _ := s.Create(W, H, 0)
	// A floor-like quad: near edge at the bottom (w=1), far edge at the top (w=4).
	wNear, wFar := float32(1), float32(4)
	quad := []Vertex{
		{X: 4, Y: 90, Z: 0.2, W: wNear, R: 1, G: 1, B: 1, A: 1, U: 0, V: 0.5},
		{X: 124, Y: 90, Z: 0.2, W: wNear, R: 1, G: 1, B: 1, A: 1, U: 1, V: 0.5},
		{X: 94, Y: 10, Z: 0.8, W: wFar, R: 1, G: 1, B: 1, A: 1, U: 1, V: 0.5},
		{X: 34, Y: 10, Z: 0.8, W: wFar, R: 1, G: 1, B: 1, A: 1, U: 0, V: 0.5},
	}
	var e Encoder
	e.Texture(tex.ID(), abi.RasterLinear, abi.RasterClamp)
	e.Indexed(quad, []uint32{0, 1, 2, 0, 2, 3})
	submit(t, s, dst, &e)
	// Reference: for a pixel centre, solve for the barycentrics in each
	// triangle (float64) and interpolate u/w and 1/w.
	ref := func(x, y float64) (u, affine float64, ok bool) {
		for _, tri := range [][3]int{{0, 1, 2}, {0, 2, 3}} {
			a, b, c := quad[tri[0]], quad[tri[1]], quad[tri[2]]
			den := float64((b.Y-c.Y)*(a.X-c.X) + (c.X-b.X)*(a.Y-c.Y))
			l0 := (float64(b.Y-c.Y)*(x-float64(c.X)) + float64(c.X-b.X)*(y-float64(c.Y))) / den
			l1 := (float64(c.Y-a.Y)*(x-float64(c.X)) + float64(a.X-c.X)*(y-float64(c.Y))) / den
			l2 := 1 - l0 - l1
			if l0 < 1e-3 || l1 < 1e-3 || l2 < 1e-3 {
				continue
			}
			num := l0*float64(a.U/a.W) + l1*float64(b.U/b.W) + l2*float64(c.U/c.W)
			den2 := l0/float64(a.W) + l1/float64(b.W) + l2/float64(c.W)
			return num / den2, l0*float64(a.U) + l1*float64(b.U) + l2*float64(c.U), true
		}
		return 0, 0, false
	}
	checked, maxAffine := 0, 0.0
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			u, aff, ok := ref(float64(x)+0.5, float64(y)+0.5)
			if !ok {
				continue
			}
			want := math.Max(0, math.Min(255, u*256-0.5)) // linear filter of a 256-texel gradient
			got := float64(px(dst, x, y)[0])
			if math.Abs(got-want) > 2 {
				t.Fatalf("pixel (%d,%d): u=%.4f → %v, got %v", x, y, u, want, got)
			}
			maxAffine = math.Max(maxAffine, math.Abs(aff-u)*255)
			checked++
		}
	}
	if checked < 3000 || maxAffine < 20 {
		t.Fatalf("checked %d pixels; affine would be off by %.1f at most (the test needs a real perspective quad)", checked, maxAffine)
	}
}

// TestDepthIntersecting draws two intersecting triangles with a depth
// test: each pixel shows the nearer one (analytic z), for both depth
// formats and both drawing orders.
func TestDepthIntersecting(t *testing.T) {
	const W, H = 64, 64
	red := []Vertex{
		{X: 2, Y: 2, Z: 0.1, W: 1, R: 1, A: 1}, {X: 62, Y: 2, Z: 0.9, W: 1, R: 1, A: 1}, {X: 2, Y: 62, Z: 0.1, W: 1, R: 1, A: 1}}
	blue := []Vertex{
		{X: 2, Y: 2, Z: 0.9, W: 1, B: 1, A: 1}, {X: 62, Y: 2, Z: 0.1, W: 1, B: 1, A: 1}, {X: 62, Y: 62, Z: 0.5, W: 1, B: 1, A: 1}}
	zAt := func(v []Vertex, x, y float64) (float64, bool) {
		a, b, c := v[0], v[1], v[2]
		den := float64((b.Y-c.Y)*(a.X-c.X) + (c.X-b.X)*(a.Y-c.Y))
		l0 := (float64(b.Y-c.Y)*(x-float64(c.X)) + float64(c.X-b.X)*(y-float64(c.Y))) / den
		l1 := (float64(c.Y-a.Y)*(x-float64(c.X)) + float64(a.X-c.X)*(y-float64(c.Y))) / den
		l2 := 1 - l0 - l1
		if l0 < 1e-3 || l1 < 1e-3 || l2 < 1e-3 {
			return 0, false
		}
		return l0*float64(a.Z) + l1*float64(b.Z) + l2*float64(c.Z), true
	}
	for _, format := range []uint32{abi.RasterDepth32F, abi.RasterDepth24} {
		for _, order := range [][2][]Vertex{{red, blue}, {blue, red}} {
			s, sf := newSurface(t, W, H, format)
			var e Encoder
			e.Clear(0xff000000, 1, abi.RasterClearColor|abi.RasterClearDepth)
			e.Depth(abi.RasterLess, true)
			e.Triangles(order[0])
			e.Triangles(order[1])
			submit(t, s, sf, &e)
			n := 0
			for y := 0; y < H; y++ {
				for x := 0; x < W; x++ {
					zr, okr := zAt(red, float64(x)+0.5, float64(y)+0.5)
					zb, okb := zAt(blue, float64(x)+0.5, float64(y)+0.5)
					if !okr || !okb || math.Abs(zr-zb) < 1e-3 {
						continue
					}
					p := px(sf, x, y)
					if want := zr < zb; (p[0] == 255) != want || (p[2] == 255) == want {
						t.Fatalf("format %d: pixel (%d,%d) zr=%.3f zb=%.3f got %v", format, x, y, zr, zb, p)
					}
					n++
				}
			}
			if n < 500 {
				t.Fatalf("only %d overlapping pixels checked", n)
			}
		}
	}
}

// TestBlendModes checks each mode on one pixel against the float formula
// of premultiplied compositing (tolerance 1).
func TestBlendModes(t *testing.T) {
	dst := [4]float64{0.2 * 0.8, 0.6 * 0.8, 0.4 * 0.8, 0.8} // premultiplied
	src := [4]float64{0.9 * 0.5, 0.1 * 0.5, 0.3 * 0.5, 0.5}
	f := map[int32]func(s, d, sa, da float64, alpha bool) float64{
		abi.RasterBlendNone: func(s, d, sa, da float64, _ bool) float64 { return s },
		abi.RasterBlendOver: func(s, d, sa, da float64, _ bool) float64 { return s + d*(1-sa) },
		abi.RasterBlendAdd:  func(s, d, sa, da float64, _ bool) float64 { return math.Min(1, s+d) },
		abi.RasterBlendMultiply: func(s, d, sa, da float64, alpha bool) float64 {
			if alpha {
				return s + d - s*d
			}
			return s*d + s*(1-da) + d*(1-sa)
		},
		abi.RasterBlendScreen: func(s, d, sa, da float64, _ bool) float64 { return s + d - s*d },
	}
	for mode, fn := range f {
		s, sf := newSurface(t, 4, 4, 0)
		for k := range dst {
			sf.back[k] = byte(dst[k]*255 + 0.5)
		}
		d8 := [4]float64{}
		for k := range d8 {
			d8[k] = float64(sf.back[k]) / 255
		}
		var e Encoder
		e.Blend(uint32(mode))
		e.Triangles([]Vertex{
			{X: -1, Y: -1, W: 1, R: 0.9, G: 0.1, B: 0.3, A: 0.5}, {X: 9, Y: -1, W: 1, R: 0.9, G: 0.1, B: 0.3, A: 0.5},
			{X: -1, Y: 9, W: 1, R: 0.9, G: 0.1, B: 0.3, A: 0.5}})
		submit(t, s, sf, &e)
		got := px(sf, 0, 0)
		for k := 0; k < 4; k++ {
			s8 := math.Round(src[k]*255) / 255
			want := fn(s8, d8[k], math.Round(src[3]*255)/255, d8[3], k == 3) * 255
			if math.Abs(float64(got[k])-want) > 1.01 {
				t.Errorf("mode %d channel %d: got %d, want %.2f", mode, k, got[k], want)
			}
		}
	}
}

// TestSurfaceLifecycle: double-buffering, preserve, limits, budget,
// blobs presented without a copy, destroy and close.
func TestSurfaceLifecycle(t *testing.T) {
	var b budget
	b.left = 3 * 100 * 100 * 4
	s := NewSet(Limits{MaxWidth: 200, MaxHeight: 100, MaxSurfaces: 3}, &b)
	if _, err := s.Create(201, 10, abi.RasterWindow); !errors.Is(err, api.ErrLimit) {
		t.Fatalf("larger than granted: %v", err)
	}
	if _, err := s.Create(10, 10, 1<<9); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("unknown flags: %v", err)
	}
	win, err := s.Create(100, 100, abi.RasterWindow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(10, 10, abi.RasterWindow); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("second window: %v", err)
	}
	if _, err := s.Create(100, 100, abi.RasterDepth32F); !errors.Is(err, api.ErrLimit) {
		t.Fatalf("over budget: %v (left %d)", err, b.left)
	}
	presents := 0
	s.OnChange(func(*Surface) { presents++ })
	var e Encoder
	e.Clear(0xff0000ff, 1, abi.RasterClearColor)
	if err := s.Submit(win.ID(), e.Bytes()); err != nil {
		t.Fatal(err)
	}
	front := func() (p [4]byte) {
		win.View(func(pix []byte, _ []float32, _ float32, _, _ int) { copy(p[:], pix) })
		return
	}
	if front() != [4]byte{} {
		t.Fatal("drawing showed before present")
	}
	if err := s.Present(win.ID()); err != nil {
		t.Fatal(err)
	}
	if front() != [4]byte{255, 0, 0, 255} || presents != 1 {
		t.Fatalf("after present: %v, %d presents", front(), presents)
	}
	blob := make([]byte, 100*100*4)
	blob[1], blob[3] = 200, 255
	released := 0
	if err := s.PresentBytes(win.ID(), blob, func() { released++ }); err != nil {
		t.Fatal(err)
	}
	var same bool
	win.View(func(pix []byte, _ []float32, _ float32, _, _ int) { same = &pix[0] == &blob[0] })
	if !same || front() != [4]byte{0, 200, 0, 255} {
		t.Fatal("blob was copied or not shown")
	}
	if err := s.PresentBytes(win.ID(), blob[:10], nil); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("short blob: %v", err)
	}
	if err := s.Present(win.ID()); err != nil || released != 1 {
		t.Fatalf("present after blob: %v, released %d", err, released)
	}
	used := b.used
	s.Close()
	if b.used != 0 || used == 0 || s.Bytes() != 0 {
		t.Fatalf("close: budget used %d (was %d), set bytes %d", b.used, used, s.Bytes())
	}
	if _, err := s.Create(1, 1, 0); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}
}

type budget struct{ left, used int64 }

func (b *budget) Reserve(n int64) bool {
	if n > b.left {
		return false
	}
	b.left -= n
	b.used += n
	return true
}
func (b *budget) Release(n int64) { b.left += n; b.used -= n }

// TestBadCommandLists: malformed lists are refused whole with an error
// that names the command; nothing is drawn.
func TestBadCommandLists(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		mk   func(e *Encoder)
		raw  []byte
	}{
		{"truncated header", nil, []byte{7, 0, 0}},
		{"unknown opcode", nil, []byte{99, 0, 0, 0, 0, 0, 0, 0}},
		{"payload past end", nil, []byte{7, 0, 0, 0, 40, 0, 0, 0}},
		{"not multiple of 3", func(e *Encoder) { e.Triangles([]Vertex{vtx(0, 0), vtx(1, 1)}) }, nil},
		{"NaN", func(e *Encoder) { e.Triangles([]Vertex{vtx(0, 0), vtx(nan, 1), vtx(2, 0)}) }, nil},
		{"Inf", func(e *Encoder) { e.Triangles([]Vertex{vtx(0, 0), vtx(1, 1), {X: 2, W: inf}}) }, nil},
		{"too far", func(e *Encoder) { e.Triangles([]Vertex{vtx(0, 0), vtx(1e9, 1), vtx(2, 0)}) }, nil},
		{"index out of range", func(e *Encoder) { e.Indexed([]Vertex{vtx(0, 0), vtx(1, 1), vtx(2, 0)}, []uint32{0, 1, 3}) }, nil},
		{"huge index", func(e *Encoder) { e.Indexed([]Vertex{vtx(0, 0)}, []uint32{0, 0, 0xffffffff}) }, nil},
		{"no texture", func(e *Encoder) { e.Texture(42, 0, 0) }, nil},
		{"texture itself", func(e *Encoder) { e.Texture(1, 0, 0) }, nil},
		{"bad depth func", func(e *Encoder) { e.Depth(17, true) }, nil},
		{"bad blend", func(e *Encoder) { e.Blend(9) }, nil},
		{"bad scissor", func(e *Encoder) { e.Scissor(0, 0, -1, 5) }, nil},
		{"blit missing", func(e *Encoder) { e.Blit(9, 0, 0, 1, 1, 0, 0, 1, 1) }, nil},
		{"NaN clear depth", func(e *Encoder) { e.Clear(0, nan, 2) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, sf := newSurface(t, 8, 8, 0)
			var e Encoder
			e.Clear(0xffffffff, 1, abi.RasterClearColor) // must not be drawn either
			b := append([]byte(nil), e.Bytes()...)
			if c.mk != nil {
				var e2 Encoder
				c.mk(&e2)
				b = append(b, e2.Bytes()...)
			} else {
				b = append(b, c.raw...)
			}
			err := s.Submit(sf.ID(), b)
			var ce *CommandError
			if !errors.As(err, &ce) || !errors.Is(err, api.ErrInvalid) || ce.Index != 1 {
				t.Fatalf("got %v, want a CommandError at command 1", err)
			}
			if px(sf, 0, 0) != [4]byte{} {
				t.Fatal("a refused list drew something")
			}
			if s.LastError() != err.Error() || s.Stats().Errors != 1 {
				t.Fatalf("last error %q, stats %+v", s.LastError(), s.Stats())
			}
		})
	}
}

// TestBlitAndTexture: a blit copies (and scales) between a process's own
// surfaces; nearest texturing with repeat tiles.
func TestBlitAndTexture(t *testing.T) {
	s := NewSet(Limits{}, nil)
	src, _ := s.Create(2, 2, 0)
	copy(src.back, []byte{255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255})
	dst, _ := s.Create(8, 8, 0)
	var e Encoder
	e.Blit(src.ID(), 0, 0, 2, 2, 2, 2, 4, 4) // scaled ×2
	e.Blit(src.ID(), 0, 0, 2, 2, 7, 7, 2, 2) // clipped at the corner
	submit(t, s, dst, &e)
	for _, c := range []struct {
		x, y int
		want [4]byte
	}{{2, 2, [4]byte{255, 0, 0, 255}}, {3, 3, [4]byte{255, 0, 0, 255}}, {4, 2, [4]byte{0, 255, 0, 255}}, {5, 5, [4]byte{255, 255, 255, 255}}, {1, 1, [4]byte{}}, {7, 7, [4]byte{255, 0, 0, 255}}} {
		if got := px(dst, c.x, c.y); got != c.want {
			t.Errorf("blit pixel (%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	e.Reset()
	e.Texture(src.ID(), abi.RasterNearest, abi.RasterRepeat)
	q := []Vertex{{X: 0, Y: 0, W: 1, R: 1, G: 1, B: 1, A: 1, U: 0, V: 0}, {X: 8, Y: 0, W: 1, R: 1, G: 1, B: 1, A: 1, U: 2, V: 0},
		{X: 8, Y: 8, W: 1, R: 1, G: 1, B: 1, A: 1, U: 2, V: 2}, {X: 0, Y: 8, W: 1, R: 1, G: 1, B: 1, A: 1, U: 0, V: 2}}
	e.Indexed(q, []uint32{0, 1, 2, 0, 2, 3})
	submit(t, s, dst, &e)
	// 2×2 texels repeated twice over 8 pixels: 2-pixel cells.
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			o := ((y/2)%2*2 + (x/2)%2) * 4
			if got, want := px(dst, x, y), [4]byte(src.back[o:o+4]); got != want {
				t.Fatalf("texel at (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}
