//go:build !wasip1

package raster

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
	iraster "github.com/orbitalfoundation/orbital/internal/raster"
	orbital "github.com/orbitalfoundation/orbital/sdk"
)

// sdkConstants maps the ABI's raster names to this package's constants.
var sdkConstants = map[string]int64{
	"RASTER_WINDOW":         Window,
	"RASTER_DEPTH32F":       Depth32F,
	"RASTER_DEPTH24":        Depth24,
	"RASTER_PRESERVE":       Preserve,
	"RASTER_CMD_HEADER":     CmdHeader,
	"RASTER_VERTEX":         VertexSize,
	"RASTER_CLEAR":          OpClear,
	"RASTER_DEPTH":          OpDepth,
	"RASTER_BLEND":          OpBlend,
	"RASTER_SCISSOR":        OpScissor,
	"RASTER_CULL":           OpCull,
	"RASTER_TEXTURE":        OpTexture,
	"RASTER_TRIANGLES":      OpTriangles,
	"RASTER_INDEXED":        OpIndexed,
	"RASTER_BLIT":           OpBlit,
	"RASTER_CLEAR_COLOR":    ClearColor,
	"RASTER_CLEAR_DEPTH":    ClearDepth,
	"RASTER_ALWAYS":         Always,
	"RASTER_NEVER":          Never,
	"RASTER_LESS":           Less,
	"RASTER_LEQUAL":         LEqual,
	"RASTER_EQUAL":          Equal,
	"RASTER_GREATER":        Greater,
	"RASTER_GEQUAL":         GEqual,
	"RASTER_NOTEQUAL":       NotEqual,
	"RASTER_BLEND_NONE":     BlendNone,
	"RASTER_BLEND_OVER":     BlendOver,
	"RASTER_BLEND_ADD":      BlendAdd,
	"RASTER_BLEND_MULTIPLY": BlendMultiply,
	"RASTER_BLEND_SCREEN":   BlendScreen,
	"RASTER_CULL_NONE":      CullNone,
	"RASTER_CULL_BACK":      CullBack,
	"RASTER_CULL_FRONT":     CullFront,
	"RASTER_NEAREST":        Nearest,
	"RASTER_LINEAR":         Linear,
	"RASTER_CLAMP":          Clamp,
	"RASTER_REPEAT":         Repeat,
	"RASTER_MAX_SIDE":       MaxSide,
	"RASTER_MAX_COORD":      MaxCoord,
}

// TestABIConstants compares the package's constants with internal/abi's
// raster group in both directions.
func TestABIConstants(t *testing.T) {
	known := map[string]bool{}
	for _, c := range abi.Constants() {
		if c.Group != abi.GroupRaster {
			continue
		}
		known[c.Name] = true
		v, ok := sdkConstants[c.Name]
		switch {
		case !ok:
			t.Errorf("sdk/raster has no constant for %s (%d, %s): add one and map it in sdkConstants", c.Name, c.Value, c.Meaning)
		case v != c.Value:
			t.Errorf("sdk/raster's %s = %d, internal/abi says %d", c.Name, v, c.Value)
		}
	}
	for name := range sdkConstants {
		if !known[name] {
			t.Errorf("sdkConstants maps %s, which is no raster constant of internal/abi", name)
		}
	}
	if codeDenied != abi.ErrDenied || codeInvalid != abi.ErrInvalid || codeTooBig != abi.ErrTooBig {
		t.Error("the package's error codes differ from internal/abi's")
	}
}

// TestABIImports: raster_wasip1.go imports exactly the surface_* functions
// of orbital_v1, with the ABI's signatures.
func TestABIImports(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "raster_wasip1.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	wasm := func(e ast.Expr) string {
		switch x := e.(type) {
		case *ast.Ident:
			switch x.Name {
			case "int32", "uint32":
				return abi.I32
			case "int64", "uint64":
				return abi.I64
			}
		case *ast.SelectorExpr:
			if p, ok := x.X.(*ast.Ident); ok && p.Name == "unsafe" && x.Sel.Name == "Pointer" {
				return abi.I32
			}
		}
		return "?"
	}
	types := func(fl *ast.FieldList) []string {
		var out []string
		if fl == nil {
			return nil
		}
		for _, fd := range fl.List {
			for range max(len(fd.Names), 1) {
				out = append(out, wasm(fd.Type))
			}
		}
		return out
	}
	got := map[string]abi.Func{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Doc == nil {
			continue
		}
		for _, c := range fd.Doc.List {
			rest, ok := strings.CutPrefix(c.Text, "//go:wasmimport ")
			if !ok {
				continue
			}
			mod, name, _ := strings.Cut(strings.TrimSpace(rest), " ")
			if mod != abi.ModuleName {
				t.Errorf("%s imports from %q", fd.Name.Name, mod)
			}
			got[name] = abi.Func{Name: name, Params: types(fd.Type.Params), Results: types(fd.Type.Results)}
		}
	}
	for _, want := range abi.Functions() {
		if !strings.HasPrefix(want.Name, "surface_") {
			continue
		}
		g, ok := got[want.Name]
		delete(got, want.Name)
		switch {
		case !ok:
			t.Errorf("raster_wasip1.go does not import %s", want.Name)
		case !slices.Equal(g.Params, want.Params) || !slices.Equal(g.Results, want.Results):
			t.Errorf("raster_wasip1.go: %s is %v -> %v, internal/abi says %v -> %v", want.Name, g.Params, g.Results, want.Params, want.Results)
		}
	}
	for name := range got {
		t.Errorf("raster_wasip1.go imports %s, which is no surface function of internal/abi", name)
	}
}

// both builds the same list with the SDK's List and the kernel's Encoder.
type both struct {
	l List
	e iraster.Encoder
}

func (b *both) vertices(v []Vertex) []iraster.Vertex {
	out := make([]iraster.Vertex, len(v))
	for i, x := range v {
		out[i] = iraster.Vertex{X: x.X, Y: x.Y, Z: x.Z, W: x.W, R: x.R, G: x.G, B: x.B, A: x.A, U: x.U, V: x.V}
	}
	return out
}

func randVertices(r *rand.Rand, n int) []Vertex {
	v := make([]Vertex, n)
	f := func() float32 { return float32(r.NormFloat64() * 100) }
	for i := range v {
		v[i] = Vertex{f(), f(), f(), f(), f(), f(), f(), f(), f(), f()}
	}
	return v
}

// TestEncodingMatchesKernel encodes random lists of every command with
// both encoders and compares the bytes.
func TestEncodingMatchesKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	var b both
	for round := 0; round < 50; round++ {
		b.l.Reset()
		b.e.Reset()
		for range 20 {
			switch r.IntN(10) {
			case 0:
				rgba, d, m := r.Uint32(), float32(r.Float64()), r.Uint32()%4
				b.l.Clear(rgba, d, m)
				b.e.Clear(rgba, d, m)
			case 1:
				fn, w := r.Uint32()%8, r.IntN(2) == 1
				b.l.Depth(fn, w)
				b.e.Depth(fn, w)
			case 2:
				m := r.Uint32() % 5
				b.l.Blend(m)
				b.e.Blend(m)
			case 3:
				m := r.Uint32() % 3
				b.l.Cull(m)
				b.e.Cull(m)
			case 4:
				x, y, w, h := r.Int32()-1<<30, r.Int32(), r.Int32(), -r.Int32()
				b.l.Scissor(x, y, w, h)
				b.e.Scissor(x, y, w, h)
			case 5:
				id, f, w := r.Uint32(), r.Uint32()%2, r.Uint32()%2
				b.l.Texture(id, f, w)
				b.e.Texture(id, f, w)
			case 6:
				v := randVertices(r, 3*r.IntN(4))
				b.l.Triangles(v)
				b.e.Triangles(b.vertices(v))
			case 7:
				v := randVertices(r, r.IntN(6))
				idx := make([]uint32, 3*r.IntN(4))
				for i := range idx {
					idx[i] = r.Uint32()
				}
				b.l.Indexed(v, idx)
				b.e.Indexed(b.vertices(v), idx)
			case 8:
				a := [9]int32{}
				for i := range a {
					a[i] = r.Int32() - 1<<30
				}
				id := r.Uint32()
				b.l.Blit(id, a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
				b.e.Blit(id, a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
			case 9:
				b.l.Triangles(nil)
				b.e.Triangles(nil)
			}
		}
		if got, want := b.l.Bytes(), b.e.Bytes(); !slices.Equal(got, want) {
			t.Fatalf("round %d: the SDK's list (%d bytes) differs from the kernel's (%d bytes)", round, len(got), len(want))
		}
		if b.l.Len() != len(b.l.Bytes()) {
			t.Fatalf("Len %d, Bytes %d", b.l.Len(), len(b.l.Bytes()))
		}
	}
}

// budget is a raster.Budget of n bytes.
type budget struct{ n int64 }

func (b *budget) Reserve(n int64) bool {
	if n > b.n {
		return false
	}
	b.n -= n
	return true
}
func (b *budget) Release(n int64) { b.n += n }

// setHost is the kernel's surface functions over a real internal/raster
// Set, translating errors as the engine does.
type setHost struct{ set *iraster.Set }

func code(err error) int32 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, api.ErrNotFound):
		return abi.ErrNotFound
	case errors.Is(err, api.ErrLimit):
		return abi.ErrLimit
	case errors.Is(err, api.ErrClosed):
		return abi.ErrClosed
	}
	return abi.ErrInvalid
}

func (h setHost) surfaceCreate(w, hh int32, flags uint32) int32 {
	sf, err := h.set.Create(int(w), int(hh), flags)
	if err != nil {
		return code(err)
	}
	return int32(sf.ID())
}
func (h setHost) surfaceDestroy(id int32) int32 { return code(h.set.Destroy(uint32(id))) }
func (h setHost) surfaceSubmit(id int32, cmds []byte) int32 {
	return code(h.set.Submit(uint32(id), cmds))
}
func (h setHost) surfaceWrite(id, x, y, w, hh int32, pix []byte, stride int32) int32 {
	return code(h.set.Write(uint32(id), int(x), int(y), int(w), int(hh), pix, int(stride)))
}
func (h setHost) surfacePresent(id int32) int32 { return code(h.set.Present(uint32(id))) }
func (h setHost) surfacePresentBlob(int32, int64) int32 {
	return abi.ErrNotFound // no blobs here
}
func (h setHost) surfaceError(buf []byte) int32 {
	msg := h.set.LastError()
	if len(msg) <= len(buf) {
		copy(buf, msg)
	}
	return int32(len(msg))
}

// withSet makes the package's calls go to a fresh Set for the test.
func withSet(t *testing.T, lim iraster.Limits, b iraster.Budget) *iraster.Set {
	t.Helper()
	set := iraster.NewSet(lim, b)
	old := host
	host = setHost{set}
	t.Cleanup(func() { host = old; set.Close() })
	return set
}

// frame returns the presented pixels of surface id.
func frame(t *testing.T, set *iraster.Set, id uint32) (pix []byte, w int) {
	t.Helper()
	sf, ok := set.Get(id)
	if !ok {
		t.Fatalf("no surface %d", id)
	}
	sf.View(func(p []byte, _ []float32, _ float32, ww, _ int) {
		pix, w = append([]byte(nil), p...), ww
	})
	return pix, w
}

func at(pix []byte, w, x, y int) [4]byte {
	o := (y*w + x) * 4
	return [4]byte(pix[o : o+4])
}

func quad(x0, y0, x1, y1, z float32, r, g, b float32) []Vertex {
	v := func(x, y float32) Vertex { return Vertex{X: x, Y: y, Z: z, W: 1, R: r, G: g, B: b, A: 1} }
	// Counter-clockwise on screen (front faces).
	return []Vertex{v(x0, y0), v(x0, y1), v(x1, y0), v(x1, y0), v(x0, y1), v(x1, y1)}
}

// TestSubmitDraws submits an SDK-built list to a window of a real Set
// through Surface and checks the presented pixels: the clear colour, the
// depth test (the nearer quad wins though drawn first), culling of a
// clockwise triangle, and text.
func TestSubmitDraws(t *testing.T) {
	set := withSet(t, iraster.Limits{MaxWidth: 64, MaxHeight: 48}, nil)
	win, err := Create(64, 48, Window|Depth32F)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := win.Size(); w != 64 || h != 48 || win.ID() == 0 {
		t.Fatalf("surface %d is %dx%d", win.ID(), w, h)
	}
	var l List
	l.Clear(0xff000000|0x00ff00, 1, ClearColor|ClearDepth) // opaque green
	l.Depth(Less, true)
	l.Cull(CullBack)
	l.Triangles(quad(0, 0, 32, 24, 0.2, 1, 0, 0)) // near, red
	l.Triangles(quad(0, 0, 32, 24, 0.8, 0, 0, 1)) // far, blue: hidden
	cw := quad(32, 0, 64, 24, 0.5, 1, 1, 1)       // reversed: clockwise, culled
	slices.Reverse(cw)
	l.Triangles(cw)
	l.Depth(Always, false)
	DrawText(&l, 8, 30, 2, 0xffffffff, "I")
	if err := win.Submit(&l); err != nil {
		t.Fatal(err)
	}
	if err := win.Present(); err != nil {
		t.Fatal(err)
	}
	pix, w := frame(t, set, win.ID())
	for _, c := range []struct {
		x, y int
		want [4]byte
		what string
	}{
		{10, 10, [4]byte{255, 0, 0, 255}, "the near red quad"},
		{40, 10, [4]byte{0, 255, 0, 255}, "the clear colour where the clockwise quad was culled"},
		{10, 40, [4]byte{0, 255, 0, 255}, "the clear colour below the quads"},
		// "I": the top row is .###. (x 8+2..8+8), the stem column 2.
		{8 + 2*2, 30, [4]byte{255, 255, 255, 255}, "the top of the I"},
		{8 + 2*2 + 1, 30 + 2*3, [4]byte{255, 255, 255, 255}, "the stem of the I"},
		{8, 30 + 2*3, [4]byte{0, 255, 0, 255}, "left of the stem of the I"},
	} {
		if got := at(pix, w, c.x, c.y); got != c.want {
			t.Errorf("(%d,%d), %s: %v, want %v", c.x, c.y, c.what, got, c.want)
		}
	}
	if err := win.Destroy(); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 0 {
		t.Errorf("%d surfaces after Destroy", set.Len())
	}
}

// TestWriteAndBlit writes pixels into a texture and blits them onto the
// window.
func TestWriteAndBlit(t *testing.T) {
	set := withSet(t, iraster.Limits{}, nil)
	tex, err := Create(2, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	pix := []byte{255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255}
	if err := tex.Write(0, 0, 2, 2, pix, 8); err != nil {
		t.Fatal(err)
	}
	if err := tex.Write(1, 1, 2, 2, pix, 8); !errors.Is(err, orbital.ErrInvalid) {
		t.Errorf("a write outside the surface: %v, want ErrInvalid", err)
	}
	if err := tex.Write(0, 0, 2, 2, pix[:10], 8); !errors.Is(err, orbital.ErrInvalid) {
		t.Errorf("a write with too few pixels: %v, want ErrInvalid", err)
	}
	win, err := Create(8, 8, Window|Preserve)
	if err != nil {
		t.Fatal(err)
	}
	var l List
	l.Blit(tex.ID(), 0, 0, 2, 2, 0, 0, 8, 8)
	if err := win.Submit(&l); err != nil {
		t.Fatal(err)
	}
	if err := win.Present(); err != nil {
		t.Fatal(err)
	}
	got, w := frame(t, set, win.ID())
	for _, c := range []struct {
		x, y int
		want [4]byte
	}{{0, 0, [4]byte{255, 0, 0, 255}}, {7, 0, [4]byte{0, 255, 0, 255}}, {0, 7, [4]byte{0, 0, 255, 255}}, {7, 7, [4]byte{255, 255, 255, 255}}} {
		if p := at(got, w, c.x, c.y); p != c.want {
			t.Errorf("(%d,%d) = %v, want %v", c.x, c.y, p, c.want)
		}
	}
}

// TestErrors: failures wrap the SDK's error values and carry the
// kernel's message.
func TestErrors(t *testing.T) {
	// No display: the default host.
	if _, err := Create(10, 10, Window); !errors.Is(err, orbital.ErrDenied) {
		t.Errorf("Create without a display: %v, want ErrDenied", err)
	}

	withSet(t, iraster.Limits{MaxWidth: 32, MaxHeight: 32}, &budget{n: 32 * 32 * 4 * 3})
	_, err := Create(64, 16, 0)
	var e *Error
	if !errors.Is(err, orbital.ErrLimit) || !errors.As(err, &e) || !strings.Contains(e.Message, "larger than the 32x32 granted") {
		t.Errorf("Create larger than granted: %v, want ErrLimit with the kernel's message", err)
	}
	if _, err := Create(32, 32, Window|Depth32F); !errors.Is(err, orbital.ErrLimit) || !strings.Contains(err.Error(), "memory limit") {
		t.Errorf("Create over the memory budget: %v, want ErrLimit", err)
	}
	if _, err := Create(0, 10, 0); !errors.Is(err, orbital.ErrInvalid) {
		t.Errorf("Create 0x10: %v, want ErrInvalid", err)
	}
	sf, err := Create(16, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := List{b: []byte{99, 0, 0, 0, 0, 0, 0, 0}}
	err = sf.Submit(&bad)
	if !errors.Is(err, orbital.ErrInvalid) || !errors.As(err, &e) || !strings.Contains(e.Message, "unknown opcode 99") || e.Op != "surface_submit" {
		t.Errorf("Submit of an unknown opcode: %v, want ErrInvalid naming the opcode", err)
	}
	var l List
	l.Triangles(make([]Vertex, 2)) // not whole triangles
	if err := sf.Submit(&l); !errors.Is(err, orbital.ErrInvalid) || !strings.Contains(err.Error(), "TRIANGLES") {
		t.Errorf("Submit of two vertices: %v", err)
	}
	if err := sf.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := sf.Destroy(); !errors.Is(err, orbital.ErrNotFound) {
		t.Errorf("a second Destroy: %v, want ErrNotFound", err)
	}
}

// TestFont: every glyph but the space has pixels, stays in its 5×7 cell,
// and DrawText draws each lit font pixel (and nothing else) when
// rendered.
func TestFont(t *testing.T) {
	for i, g := range font {
		lit := 0
		for _, row := range g {
			if row&^0x1f != 0 {
				t.Errorf("glyph %q has bits outside its 5 columns", rune(' '+i))
			}
			lit += int(row)
		}
		if (lit == 0) != (i == 0) {
			t.Errorf("glyph %q: %d lit rows", rune(' '+i), lit)
		}
	}
	if glyph('\t') != glyph('?') || glyph('é') != glyph('?') {
		t.Error("characters outside printable ASCII are not drawn as '?'")
	}
	if w := TextWidth("ab\nwxyz", 2); w != 4*FontAdvance*2 {
		t.Errorf("TextWidth = %v", w)
	}

	set := withSet(t, iraster.Limits{}, nil)
	text := "Hi 0!\n{q}"
	sf, err := Create(40, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	var l List
	l.Clear(0, 0, ClearColor)
	l.Cull(CullBack) // the glyphs are front faces
	DrawText(&l, 1, 2, 1, 0xff0000ff, text)
	if err := sf.Submit(&l); err != nil {
		t.Fatal(err)
	}
	pix, w := frame(t, set, sf.ID())
	want := make([]bool, 40*20)
	for line, s := range strings.Split(text, "\n") {
		for i, r := range s {
			g := glyph(r)
			for row := range FontHeight {
				for col := range FontWidth {
					if g[row]&(0x10>>col) != 0 {
						want[(2+line*FontLine+row)*w+1+i*FontAdvance+col] = true
					}
				}
			}
		}
	}
	for y := range 20 {
		for x := range 40 {
			red := at(pix, w, x, y) == [4]byte{255, 0, 0, 255}
			if red != want[y*w+x] {
				t.Errorf("(%d,%d): lit %v, want %v", x, y, red, want[y*w+x])
			}
		}
	}
}
