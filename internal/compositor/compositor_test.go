package compositor

import (
	"encoding/json"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
	"github.com/orbitalfoundation/orbital/internal/display"
	"github.com/orbitalfoundation/orbital/internal/raster"
)

// app is a fake process: a surface set with a window, attached.
type app struct {
	set    *raster.Set
	win    *raster.Surface
	detach func()
	mu     sync.Mutex
	events []display.Event
}

func newApp(t *testing.T, c *Compositor, name string, w, h int, flags uint32, input bool) *app {
	t.Helper()
	a := &app{set: raster.NewSet(raster.Limits{}, nil)}
	ow := orbital.Window{Name: name, Surfaces: a.set}
	if input {
		ow.Input = func(kind string, data []byte) error {
			var ev display.Event
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Errorf("input is not JSON: %v", err)
			}
			a.mu.Lock()
			a.events = append(a.events, ev)
			a.mu.Unlock()
			return nil
		}
	}
	a.detach = c.Attach(ow)
	var err error
	if a.win, err = a.set.Create(w, h, abi.RasterWindow|flags); err != nil {
		t.Fatal(err)
	}
	return a
}

// fill draws a solid colour (straight RGBA) and, with depth, a depth
// ramp from zl at the left to zr at the right; then presents.
func (a *app) fill(t *testing.T, rgba uint32, zl, zr float32) {
	t.Helper()
	w, h := a.win.Size()
	c := func(z float32, x float32) raster.Vertex {
		return raster.Vertex{X: x, Z: z, W: 1, R: float32(rgba&0xff) / 255, G: float32(rgba>>8&0xff) / 255, B: float32(rgba>>16&0xff) / 255, A: float32(rgba>>24) / 255}
	}
	v := []raster.Vertex{c(zl, 0), c(zr, float32(w)), c(zr, float32(w)), c(zl, 0)}
	v[2].Y, v[3].Y = float32(h), float32(h)
	var e raster.Encoder
	e.Clear(0, 1, abi.RasterClearColor|abi.RasterClearDepth)
	e.Depth(abi.RasterAlways, true)
	e.Indexed(v, []uint32{0, 1, 2, 0, 2, 3})
	if err := a.set.Submit(a.win.ID(), e.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := a.set.Present(a.win.ID()); err != nil {
		t.Fatal(err)
	}
}

func (a *app) got() []display.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]display.Event(nil), a.events...)
}

func screenPx(t *testing.T, c *Compositor, x, y int) [4]byte {
	t.Helper()
	img, err := c.Snapshot("")
	if err != nil {
		t.Fatal(err)
	}
	o := img.PixOffset(x, y)
	return [4]byte(img.Pix[o : o+4])
}

func place(t *testing.T, c *Compositor, name string, x, y int) {
	t.Helper()
	if err := c.Apply(api.WindowOp{Window: name, X: &x, Y: &y}); err != nil {
		t.Fatal(err)
	}
}

const (
	red  = 0xff0000ff
	blue = 0xffff0000
)

func TestStackingRaiseAndLayers(t *testing.T) {
	c := New(Options{Width: 200, Height: 100, Background: 0xff000000})
	defer c.Close()
	a := newApp(t, c, "a", 80, 60, 0, false)
	b := newApp(t, c, "b", 80, 60, 0, false)
	place(t, c, "a", 10, 10)
	place(t, c, "b", 50, 30)
	a.fill(t, red, 0, 0)
	b.fill(t, blue, 0, 0)
	if p := screenPx(t, c, 60, 40); p != [4]byte{0, 0, 255, 255} {
		t.Fatalf("overlap shows %v, want b (blue, attached last) on top", p)
	}
	if p := screenPx(t, c, 15, 15); p != [4]byte{255, 0, 0, 255} {
		t.Fatalf("a alone shows %v", p)
	}
	if p := screenPx(t, c, 5, 5); p != [4]byte{0, 0, 0, 255} {
		t.Fatalf("background shows %v", p)
	}
	if err := c.Apply(api.WindowOp{Window: "a", Raise: true}); err != nil {
		t.Fatal(err)
	}
	if p := screenPx(t, c, 60, 40); p != [4]byte{255, 0, 0, 255} {
		t.Fatalf("after raising a the overlap shows %v", p)
	}
	z := 5
	if err := c.Apply(api.WindowOp{Window: "b", Z: &z}); err != nil {
		t.Fatal(err)
	}
	if p := screenPx(t, c, 60, 40); p != [4]byte{0, 0, 255, 255} {
		t.Fatalf("b in a higher layer: overlap shows %v", p)
	}
	op := 0.5
	if err := c.Apply(api.WindowOp{Window: "b", Opacity: &op}); err != nil {
		t.Fatal(err)
	}
	if p := screenPx(t, c, 60, 40); p[0] < 126 || p[0] > 129 || p[2] < 126 || p[2] > 129 {
		t.Fatalf("half-transparent blue over red shows %v", p)
	}
	hidden := false
	if err := c.Apply(api.WindowOp{Window: "b", Visible: &hidden}); err != nil {
		t.Fatal(err)
	}
	if p := screenPx(t, c, 100, 80); p != [4]byte{0, 0, 0, 255} {
		t.Fatalf("hidden window still shows %v", p)
	}
	bad := 1.5
	if err := c.Apply(api.WindowOp{Window: "b", Opacity: &bad}); err == nil {
		t.Fatal("opacity 1.5 accepted")
	}
	if err := c.Apply(api.WindowOp{Window: "nope"}); err == nil {
		t.Fatal("unknown window accepted")
	}
	info := c.Info()
	if len(info.Windows) != 2 || info.Windows[1].Name != "b" || info.Windows[1].Visible {
		t.Fatalf("info %+v", info.Windows)
	}
}

// TestDepthMergedLayer: two windows with depth buffers in the same layer
// interpenetrate: each screen pixel shows the nearer surface.
func TestDepthMergedLayer(t *testing.T) {
	c := New(Options{Width: 120, Height: 40})
	defer c.Close()
	a := newApp(t, c, "a", 100, 20, abi.RasterDepth32F, false)
	b := newApp(t, c, "b", 100, 20, abi.RasterDepth24, false)
	place(t, c, "a", 10, 10)
	place(t, c, "b", 10, 10)
	a.fill(t, red, 0.1, 0.9)  // near on the left
	b.fill(t, blue, 0.9, 0.1) // near on the right
	for x := 12; x < 108; x += 4 {
		p := screenPx(t, c, x, 20)
		wantRed := x < 58
		if x > 56 && x < 64 {
			continue // where they cross
		}
		if (p[0] == 255) != wantRed || (p[2] == 255) == wantRed {
			t.Fatalf("x=%d shows %v, want red=%v", x, p, wantRed)
		}
	}
	// Without depth merging (different layers) the top one wins everywhere.
	z := 1
	_ = c.Apply(api.WindowOp{Window: "a", Z: &z})
	if p := screenPx(t, c, 100, 20); p != [4]byte{255, 0, 0, 255} {
		t.Fatalf("a in front layer shows %v at the right", p)
	}
}

// TestFocusAndInput: a click focuses and raises the window under the
// pointer; events go to the focused window in surface coordinates, only
// when it was granted input.
func TestFocusAndInput(t *testing.T) {
	c := New(Options{Width: 300, Height: 200})
	defer c.Close()
	paint := newApp(t, c, "paint", 100, 100, 0, true)
	other := newApp(t, c, "other", 100, 100, 0, false)
	place(t, c, "paint", 0, 0)
	place(t, c, "other", 150, 0)
	paint.fill(t, red, 0, 0)
	other.fill(t, blue, 0, 0)
	c.Input(display.Event{Kind: display.Pointer, Action: "down", X: 30, Y: 40, Button: 1})
	c.Input(display.Event{Kind: display.Pointer, Action: "move", X: 35, Y: 45, Buttons: 1})
	c.Input(display.Event{Kind: display.Key, Action: "down", Key: "a"})
	waitFor(t, func() bool { return len(paint.got()) == 3 })
	ev := paint.got()
	if ev[0].X != 30 || ev[0].Y != 40 || ev[0].Window != "paint" || ev[1].X != 35 || ev[2].Key != "a" {
		t.Fatalf("events %+v", ev)
	}
	if c.Info().Focus != "paint" {
		t.Fatalf("focus %q", c.Info().Focus)
	}
	// Scaled window: coordinates are the surface's.
	w, h := 200, 200
	_ = c.Apply(api.WindowOp{Window: "paint", Width: &w, Height: &h})
	c.Input(display.Event{Kind: display.Pointer, Action: "down", X: 100, Y: 50})
	waitFor(t, func() bool { return len(paint.got()) == 4 })
	if e := paint.got()[3]; e.X != 50 || e.Y != 25 {
		t.Fatalf("scaled click at %d,%d", e.X, e.Y)
	}
	// A click on "other" focuses it; it has no input grant: nothing is delivered.
	c.Input(display.Event{Kind: display.Pointer, Action: "down", X: 220, Y: 50})
	c.Input(display.Event{Kind: display.Key, Action: "down", Key: "b"})
	waitFor(t, func() bool { return c.Info().Focus == "other" })
	time.Sleep(20 * time.Millisecond)
	if len(paint.got()) != 4 {
		t.Fatalf("paint got events while other had the focus: %+v", paint.got())
	}
}

// TestSlowAndGoneModules: a window that never presents does not stop the
// others from updating; a detached window disappears and its area is
// redrawn.
func TestSlowAndGoneModules(t *testing.T) {
	c := New(Options{Width: 100, Height: 50, Background: 0xff000000})
	go c.Run()
	defer c.Close()
	stuck := newApp(t, c, "stuck", 40, 40, 0, false) // never presents
	live := newApp(t, c, "live", 40, 40, 0, false)
	place(t, c, "stuck", 0, 0)
	place(t, c, "live", 50, 0)
	_ = stuck
	var f frames
	c.AddDisplay(&f)
	for i := 0; i < 5; i++ {
		live.fill(t, 0xff000000|uint32(i*40), 0, 0)
		want := byte(i * 40)
		waitFor(t, func() bool { return f.pixel(60, 10)[0] == want })
	}
	live.detach()
	waitFor(t, func() bool { return f.pixel(60, 10) == [4]byte{0, 0, 0, 255} })
	if len(c.Info().Windows) != 1 {
		t.Fatalf("windows %+v", c.Info().Windows)
	}
}

// frames is a display that keeps the last frame.
type frames struct {
	mu  sync.Mutex
	pix []byte
	w   int
	n   int
}

func (f *frames) Name() string { return "test" }
func (f *frames) Close() error { return nil }
func (f *frames) Show(fr display.Frame, dirty []image.Rectangle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pix == nil {
		f.pix, f.w = make([]byte, len(fr.Pix)), fr.W
	}
	for _, r := range dirty {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			copy(f.pix[(y*fr.W+r.Min.X)*4:(y*fr.W+r.Max.X)*4], fr.Pix[y*fr.Stride+r.Min.X*4:y*fr.Stride+r.Max.X*4])
		}
	}
	f.n++
	return nil
}
func (f *frames) pixel(x, y int) [4]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pix == nil {
		return [4]byte{}
	}
	o := (y*f.w + x) * 4
	return [4]byte(f.pix[o : o+4])
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFirstFitPlacement: new windows are placed where they overlap no
// other window while there is room, then cascade.
func TestFirstFitPlacement(t *testing.T) {
	c := New(Options{Width: 400, Height: 200})
	defer c.Close()
	for _, n := range []string{"a", "b", "c", "d"} {
		newApp(t, c, n, 150, 150, 0, false)
	}
	ws := c.Info().Windows
	rect := func(w api.WindowInfo) image.Rectangle { return image.Rect(w.X, w.Y, w.X+w.Width, w.Y+w.Height) }
	if rect(ws[0]).Overlaps(rect(ws[1])) || !rect(ws[0]).In(image.Rect(0, 0, 400, 200)) || !rect(ws[1]).In(image.Rect(0, 0, 400, 200)) {
		t.Fatalf("the first two windows overlap or leave the screen: %v %v", rect(ws[0]), rect(ws[1]))
	}
	if ws[2].X == 0 && ws[2].Y == 0 {
		t.Fatalf("the third window was not placed: %+v", ws[2])
	}
}
