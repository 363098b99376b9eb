// Package compositor owns the screen: it places the window surface of
// every process granted a display (package raster) on it, composites them
// with their depth buffers and per-window opacity in two passes, and
// shows the result on the attached displays (package display) — at most
// FPS times a second and only when something changed. It never waits on
// a module: a window shows its last presented frame.
//
// Input from a display goes to the focused window's process (a click
// focuses and raises the window under the pointer), translated to the
// window's surface coordinates, and only if the process was granted
// input.
//
// The compositor is a service above the kernel: it implements
// orbital.Screen and knows processes only as the Windows the kernel
// attaches.
package compositor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
	"github.com/orbitalfoundation/orbital/internal/display"
	"github.com/orbitalfoundation/orbital/internal/raster"
)

// Options configure a Compositor.
type Options struct {
	Width, Height int    // the screen (default 1280×720)
	FPS           int    // composites per second at most (default 60)
	Background    uint32 // straight RGBA, R in the low byte (default 0xff201c18)
	Logger        *slog.Logger
}

// Compositor is a screen. Start its loop with Run.
type Compositor struct {
	opt  Options
	log  *slog.Logger
	wake chan struct{}

	mu       sync.Mutex // windows, focus, damage, displays
	windows  []*Window  // stacking order, back to front within each Z layer (see sorted)
	focus    *Window
	damage   []image.Rectangle
	displays []display.Display
	raised   int // stacking counter
	placed   int // cascade counter for windows that fit nowhere

	frameMu sync.Mutex // one composite at a time; guards screen and depth
	screen  []byte
	depth   []float32
	frames  atomic.Uint64

	inputs  chan display.Event
	dropped atomic.Uint64
	closed  chan struct{}
	once    sync.Once
}

// Window is one process's place on the screen.
type Window struct {
	c      *Compositor
	name   string
	pid    uint64
	module string
	set    *raster.Set
	input  func(kind string, data []byte) error

	// Guarded by c.mu.
	x, y, w, h int // w, h == 0: the surface's size
	z          int
	order      int
	opacity    float64
	hidden     bool
	rect       image.Rectangle // where it was last composited
	gone       bool
	positioned bool // placed on the screen (first fit, or by Apply)

	dirty    atomic.Bool
	wmu      sync.Mutex
	watchers map[chan struct{}]struct{}
}

// New returns a compositor with no displays (headless).
func New(o Options) *Compositor {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 1280, 720
	}
	if o.FPS <= 0 {
		o.FPS = 60
	}
	if o.Background == 0 {
		o.Background = 0xff201c18
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Compositor{opt: o, log: o.Logger, wake: make(chan struct{}, 1),
		screen: make([]byte, o.Width*o.Height*4), depth: make([]float32, o.Width*o.Height),
		inputs: make(chan display.Event, 256), closed: make(chan struct{})}
	c.damage = []image.Rectangle{c.bounds()}
	go c.inputLoop()
	return c
}

func (c *Compositor) bounds() image.Rectangle { return image.Rect(0, 0, c.opt.Width, c.opt.Height) }

// Size is the screen's size.
func (c *Compositor) Size() (w, h int) { return c.opt.Width, c.opt.Height }

// Attach implements orbital.Screen: the process's window appears once its
// window surface exists, and goes when detach is called.
func (c *Compositor) Attach(ow orbital.Window) (detach func()) {
	w := &Window{c: c, name: ow.Name, pid: ow.PID, module: ow.Module, set: ow.Surfaces, input: ow.Input, opacity: 1}
	c.mu.Lock()
	c.raised++
	w.order = c.raised
	c.windows = append(c.windows, w)
	c.mu.Unlock()
	w.set.OnChange(func(*raster.Surface) { w.changed() })
	return func() { c.detach(w) }
}

func (c *Compositor) detach(w *Window) {
	w.set.OnChange(func(*raster.Surface) {})
	c.mu.Lock()
	for i, x := range c.windows {
		if x == w {
			c.windows = append(c.windows[:i], c.windows[i+1:]...)
			break
		}
	}
	if c.focus == w {
		c.focus = nil
	}
	w.gone = true
	c.damage = append(c.damage, w.rect)
	c.mu.Unlock()
	w.notify()
	c.kick()
}

// changed runs on the presenting goroutine: mark, wake, never wait.
func (w *Window) changed() {
	w.dirty.Store(true)
	w.notify()
	w.c.kick()
}

func (w *Window) notify() {
	w.wmu.Lock()
	for ch := range w.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.wmu.Unlock()
}

func (c *Compositor) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run composites until Close: whenever something changed, at most FPS
// times a second.
func (c *Compositor) Run() {
	interval := time.Second / time.Duration(c.opt.FPS)
	for {
		select {
		case <-c.closed:
			return
		case <-c.wake:
		}
		start := time.Now()
		c.Frame()
		if d := interval - time.Since(start); d > 0 {
			select {
			case <-c.closed:
				return
			case <-time.After(d):
			}
		}
	}
}

// Close stops the loop and closes every display.
func (c *Compositor) Close() error {
	var errs []error
	c.once.Do(func() {
		close(c.closed)
		c.frameMu.Lock()
		c.mu.Lock()
		ds := c.displays
		c.displays = nil
		c.mu.Unlock()
		for _, d := range ds {
			if err := d.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close display %s: %w", d.Name(), err))
			}
		}
		c.frameMu.Unlock()
	})
	return errors.Join(errs...)
}

// AddDisplay shows the screen on d from the next frame on (all of it).
// remove detaches d without closing it.
func (c *Compositor) AddDisplay(d display.Display) (remove func()) {
	c.mu.Lock()
	c.displays = append(c.displays, d)
	c.damage = append(c.damage, c.bounds())
	c.mu.Unlock()
	c.kick()
	return func() {
		c.frameMu.Lock() // not in the middle of a Show
		c.mu.Lock()
		for i, x := range c.displays {
			if x == d {
				c.displays = append(c.displays[:i], c.displays[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
		c.frameMu.Unlock()
	}
}

// sorted returns the visible windows back to front: by Z layer, then by
// when they were raised. c.mu is held.
func (c *Compositor) sorted() []*Window {
	out := make([]*Window, 0, len(c.windows))
	for _, w := range c.windows {
		if !w.hidden && w.set.Window() != nil {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].z != out[j].z {
			return out[i].z < out[j].z
		}
		return out[i].order < out[j].order
	})
	return out
}

// screenRect is where w's window surface goes; c.mu is held.
func (w *Window) screenRect() (image.Rectangle, *raster.Surface) {
	sf := w.set.Window()
	if sf == nil {
		return image.Rectangle{}, nil
	}
	sw, sh := sf.Size()
	ww, wh := w.w, w.h
	if ww == 0 || wh == 0 {
		ww, wh = sw, sh
	}
	return image.Rect(w.x, w.y, w.x+ww, w.y+wh), sf
}

// layer is one window in a frame: where, what, and its depth key base.
type layer struct {
	w       *Window
	r       image.Rectangle
	sf      *raster.Surface
	opacity float64
	key     float32 // smaller is nearer; windows sharing a Z layer with depth buffers share a key
	depth   bool
	// translucent: the first pass met a pixel it left for the second
	// (always assumed for the generic path).
	translucent bool
	holes       bool // the first pass met a pixel that is not opaque
	hidden      bool // entirely behind opaque windows in the rectangle being composited
}

// covered reports whether r lies inside one of the rectangles.
func covered(r image.Rectangle, rs []image.Rectangle) bool {
	for _, s := range rs {
		if r.In(s) {
			return true
		}
	}
	return false
}

// Frame composites what changed and shows it on every display. Run calls
// it; tests and Snapshot may call it directly.
func (c *Compositor) Frame() {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	c.mu.Lock()
	dmg := c.damage
	c.damage = nil
	c.place()
	ws := c.sorted()
	layers := make([]layer, len(ws))
	for i := len(ws) - 1; i >= 0; i-- { // front to back: assign keys
		w := ws[i]
		r, sf := w.screenRect()
		if w.dirty.Swap(false) || r != w.rect {
			dmg = append(dmg, r, w.rect)
		}
		w.rect = r
		key := float32(len(ws) - 1 - i)
		depth := sf.HasDepth()
		if next := i + 1; next < len(ws) && depth && layers[next].depth && ws[next].z == w.z {
			key = layers[next].key // same layer, both with depth: merged per pixel
		}
		layers[i] = layer{w: w, r: r, sf: sf, opacity: w.opacity, key: key, depth: depth}
	}
	for _, w := range c.windows { // hidden or surfaceless windows that were shown
		if (w.hidden || w.set.Window() == nil) && !w.rect.Empty() {
			dmg = append(dmg, w.rect)
			w.rect = image.Rectangle{}
		}
		if w.hidden || w.set.Window() == nil {
			w.dirty.Store(false)
		}
	}
	displays := append([]display.Display(nil), c.displays...)
	c.mu.Unlock()

	rects := merge(dmg, c.bounds())
	if len(rects) == 0 {
		return
	}
	for _, r := range rects {
		c.composite(r, layers)
	}
	c.frames.Add(1)
	f := display.Frame{Pix: c.screen, Stride: 4 * c.opt.Width, W: c.opt.Width, H: c.opt.Height}
	for _, d := range displays {
		if err := d.Show(f, rects); err != nil {
			c.log.Warn("display failed", "display", d.Name(), "err", err)
		}
	}
}

// place gives each window that has just got its surface a position: the
// first spot (scanning rows, 16-pixel steps) where it overlaps no placed
// window and fits on the screen, else a cascade. c.mu is held.
func (c *Compositor) place() {
	for _, w := range c.windows {
		if w.positioned {
			continue
		}
		r, sf := w.screenRect()
		if sf == nil {
			continue
		}
		w.positioned = true
		var taken []image.Rectangle
		for _, o := range c.windows {
			if o != w && o.positioned && !o.hidden {
				if or, osf := o.screenRect(); osf != nil {
					taken = append(taken, or.Inset(-8)) // a margin between windows
				}
			}
		}
		found := false
		for y := 16; y+r.Dy() <= c.opt.Height && !found; y += 16 {
			for x := 16; x+r.Dx() <= c.opt.Width; x += 16 {
				cand := image.Rect(x, y, x+r.Dx(), y+r.Dy())
				free := true
				for _, t := range taken {
					if cand.Overlaps(t) {
						free = false
						break
					}
				}
				if free {
					w.x, w.y, found = x, y, true
					break
				}
			}
		}
		if !found {
			c.placed++
			w.x, w.y = 24+(c.placed%10)*36, 24+(c.placed%10)*28
		}
	}
}

// merge clips rects to b, drops empty ones, and replaces many with their
// union.
func merge(rs []image.Rectangle, b image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, r := range rs {
		if r = r.Intersect(b); !r.Empty() {
			out = append(out, r)
		}
	}
	if len(out) > 8 {
		u := out[0]
		for _, r := range out[1:] {
			u = u.Union(r)
		}
		out = []image.Rectangle{u}
	}
	return out
}

// composite redraws screen rectangle r: the background, then opaque
// pixels front to back with a depth test (each screen pixel written once),
// then translucent pixels back to front, blended over what is in front of
// them.
func (c *Compositor) composite(r image.Rectangle, layers []layer) {
	W := c.opt.Width
	bg := premul(c.opt.Background)
	inf := float32(math.Inf(1))
	for y := r.Min.Y; y < r.Max.Y; y++ { // doubling copies: memset speed
		row := c.screen[(y*W+r.Min.X)*4 : (y*W+r.Max.X)*4]
		copy(row, bg[:])
		for n := 4; n < len(row); n *= 2 {
			copy(row[n:], row[:n])
		}
		d := c.depth[y*W+r.Min.X : y*W+r.Max.X]
		d[0] = inf
		for n := 1; n < len(d); n *= 2 {
			copy(d[n:], d[:n])
		}
	}
	var solid []image.Rectangle             // parts of r already covered by opaque windows
	for i := len(layers) - 1; i >= 0; i-- { // pass 1: opaque, front to back
		l := &layers[i]
		clip := r.Intersect(l.r)
		if covered(clip, solid) {
			l.hidden = true // behind opaque windows here: nothing to do in either pass
			continue
		}
		l.hidden = false
		if l.opacity >= 1 {
			l.holes = false
			c.pass(r, l, true)
			if !l.holes && !l.translucent && !l.depth && !clip.Empty() {
				solid = append(solid, clip)
			}
		}
	}
	for i := range layers { // pass 2: translucent, back to front
		if l := &layers[i]; !l.hidden && l.opacity > 0 && (l.opacity < 1 || l.translucent) {
			c.pass(r, l, false)
		}
	}
}

// pass draws layer l's pixels in r: opaque pixels of an opaque window
// (first pass), or every other visible pixel (second pass).
func (c *Compositor) pass(r image.Rectangle, l *layer, opaque bool) {
	clip := r.Intersect(l.r)
	if clip.Empty() {
		return
	}
	W := c.opt.Width
	op := uint32(math.Round(l.opacity * 255))
	l.sf.View(func(pix []byte, depth []float32, scale float32, sw, sh int) {
		if pix == nil {
			return
		}
		rw, rh := l.r.Dx(), l.r.Dy()
		if rw == sw && rh == sh && (!l.depth || depth == nil) {
			c.passFast(clip, l, pix, sw, op, opaque)
			return
		}
		l.translucent = true
		for y := clip.Min.Y; y < clip.Max.Y; y++ {
			sy := (y - l.r.Min.Y) * sh / rh
			for x := clip.Min.X; x < clip.Max.X; x++ {
				sx := (x - l.r.Min.X) * sw / rw
				si := sy*sw + sx
				p := pix[si*4 : si*4+4]
				if p[3] == 0 {
					continue
				}
				solid := p[3] == 255 && op == 255
				if solid != opaque {
					continue
				}
				key := l.key
				if l.depth && depth != nil {
					key += min(depth[si]/scale, 1) * 0.999
				}
				di := y*W + x
				if key >= c.depth[di] {
					continue
				}
				dst := c.screen[di*4 : di*4+4]
				if opaque {
					copy(dst, p)
					c.depth[di] = key
					continue
				}
				s0, s1, s2, s3 := mul(uint32(p[0]), op), mul(uint32(p[1]), op), mul(uint32(p[2]), op), mul(uint32(p[3]), op)
				ia := 255 - s3
				dst[0] = byte(s0 + mul(uint32(dst[0]), ia))
				dst[1] = byte(s1 + mul(uint32(dst[1]), ia))
				dst[2] = byte(s2 + mul(uint32(dst[2]), ia))
				dst[3] = byte(s3 + mul(uint32(dst[3]), ia))
			}
		}
	})
}

// passFast is pass for an unscaled window without depth: one key for
// the whole window, pixels read as little-endian words. The first pass
// records whether the window has translucent pixels, so the second skips
// windows that have none.
func (c *Compositor) passFast(clip image.Rectangle, l *layer, pix []byte, sw int, op uint32, opaque bool) {
	W := c.opt.Width
	key := l.key
	n := clip.Dx()
	for y := clip.Min.Y; y < clip.Max.Y; y++ {
		so := ((y-l.r.Min.Y)*sw + clip.Min.X - l.r.Min.X) * 4
		src := pix[so : so+4*n]
		do := y*W + clip.Min.X
		dst := c.screen[do*4 : do*4+4*n]
		dep := c.depth[do : do+n]
		if opaque {
			for i := range dep {
				px := binary.LittleEndian.Uint32(src[i*4:])
				switch a := px >> 24; {
				case a == 255:
					if key < dep[i] {
						binary.LittleEndian.PutUint32(dst[i*4:], px)
						dep[i] = key
					}
				case a != 0:
					l.translucent = true
					l.holes = true
				default:
					l.holes = true
				}
			}
			continue
		}
		for i := range dep {
			px := binary.LittleEndian.Uint32(src[i*4:])
			a := px >> 24
			if a == 0 || (a == 255 && op == 255) || key >= dep[i] {
				continue
			}
			d := dst[i*4 : i*4+4 : i*4+4]
			s0, s1, s2, s3 := mul(px&0xff, op), mul(px>>8&0xff, op), mul(px>>16&0xff, op), mul(a, op)
			ia := 255 - s3
			d[0] = byte(s0 + mul(uint32(d[0]), ia))
			d[1] = byte(s1 + mul(uint32(d[1]), ia))
			d[2] = byte(s2 + mul(uint32(d[2]), ia))
			d[3] = byte(s3 + mul(uint32(d[3]), ia))
		}
	}
}

func mul(a, b uint32) uint32 {
	t := a*b + 128
	return (t + t>>8) >> 8
}

func premul(rgba uint32) [4]byte {
	r, g, b, a := rgba&0xff, rgba>>8&0xff, rgba>>16&0xff, rgba>>24
	return [4]byte{byte(mul(r, a)), byte(mul(g, a)), byte(mul(b, a)), byte(a)}
}

// ErrNoWindow is returned for a window name that is not on the screen;
// it wraps api.ErrNotFound.
var ErrNoWindow = fmt.Errorf("window %w", api.ErrNotFound)

func (c *Compositor) find(name string) (*Window, error) {
	for _, w := range c.windows {
		if w.name == name {
			return w, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoWindow, name)
}

// Apply changes window op.Window. Errors wrap api.ErrNotFound or
// api.ErrInvalid (a size or opacity out of range).
func (c *Compositor) Apply(op api.WindowOp) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, err := c.find(op.Window)
	if err != nil {
		return err
	}
	if op.Opacity != nil && (math.IsNaN(*op.Opacity) || *op.Opacity < 0 || *op.Opacity > 1) {
		return fmt.Errorf("%w: opacity %v: want 0 to 1", api.ErrInvalid, *op.Opacity)
	}
	for _, v := range []*int{op.Width, op.Height} {
		if v != nil && (*v < 0 || *v > 4*abi.RasterMaxSide) {
			return fmt.Errorf("%w: window size %d", api.ErrInvalid, *v)
		}
	}
	for _, v := range []*int{op.X, op.Y} {
		if v != nil && (*v < -1<<20 || *v > 1<<20) {
			return fmt.Errorf("%w: window position %d", api.ErrInvalid, *v)
		}
	}
	if op.X != nil || op.Y != nil {
		w.positioned = true
	}
	if op.X != nil {
		w.x = *op.X
	}
	if op.Y != nil {
		w.y = *op.Y
	}
	if op.Width != nil {
		w.w = *op.Width
	}
	if op.Height != nil {
		w.h = *op.Height
	}
	if op.Z != nil {
		w.z = *op.Z
	}
	if op.Opacity != nil {
		w.opacity = *op.Opacity
	}
	if op.Visible != nil {
		w.hidden = !*op.Visible
	}
	if op.Raise || op.Focus {
		c.raised++
		w.order = c.raised
	}
	if op.Focus {
		c.focus = w
	}
	w.dirty.Store(true)
	c.kick()
	return nil
}

// Info describes the screen and its windows, back to front.
func (c *Compositor) Info() api.ScreenInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.place()
	info := api.ScreenInfo{Width: c.opt.Width, Height: c.opt.Height, FPS: c.opt.FPS, Frames: c.frames.Load(), Displays: []string{}, Windows: []api.WindowInfo{}}
	for _, d := range c.displays {
		info.Displays = append(info.Displays, d.Name())
	}
	ws := append([]*Window(nil), c.windows...)
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].z != ws[j].z {
			return ws[i].z < ws[j].z
		}
		return ws[i].order < ws[j].order
	})
	for i, w := range ws {
		r, sf := w.screenRect()
		wi := api.WindowInfo{Name: w.name, PID: w.pid, Module: w.module, X: w.x, Y: w.y, Width: r.Dx(), Height: r.Dy(),
			Z: w.z, Order: i, Opacity: w.opacity, Visible: !w.hidden && sf != nil, Focused: c.focus == w, Input: w.input != nil,
			Bytes: w.set.Bytes()}
		if sf != nil {
			wi.SurfaceWidth, wi.SurfaceHeight = sf.Size()
			wi.Depth, wi.Presents = sf.HasDepth(), sf.Presents()
		}
		info.Windows = append(info.Windows, wi)
	}
	if c.focus != nil {
		info.Focus = c.focus.name
	}
	return info
}

// Snapshot composites what changed and returns the screen (window == "")
// or one window's presented surface, unpremultiplied for encoding.
func (c *Compositor) Snapshot(window string) (*image.NRGBA, error) {
	if window == "" {
		c.Frame()
		c.frameMu.Lock()
		defer c.frameMu.Unlock()
		return unpremultiply(c.screen, c.opt.Width, c.opt.Height), nil
	}
	c.mu.Lock()
	w, err := c.find(window)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sf := w.set.Window()
	if sf == nil {
		return nil, fmt.Errorf("%w: %q has no window surface yet", ErrNoWindow, window)
	}
	var img *image.NRGBA
	sf.View(func(pix []byte, _ []float32, _ float32, sw, sh int) {
		if pix != nil {
			img = unpremultiply(pix, sw, sh)
		}
	})
	if img == nil {
		return nil, fmt.Errorf("%w: %q was closed", ErrNoWindow, window)
	}
	return img, nil
}

func unpremultiply(pix []byte, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h*4; i += 4 {
		a := uint32(pix[i+3])
		img.Pix[i+3] = byte(a)
		if a == 0 {
			continue
		}
		for k := 0; k < 3; k++ {
			img.Pix[i+k] = byte(min(255, (uint32(pix[i+k])*255+a/2)/a))
		}
	}
	return img
}

// WatchWindow returns a channel that receives (coalesced) whenever the
// named window presents a frame or goes away; cancel stops it.
func (c *Compositor) WatchWindow(name string) (<-chan struct{}, func(), error) {
	c.mu.Lock()
	w, err := c.find(name)
	c.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan struct{}, 1)
	w.wmu.Lock()
	if w.watchers == nil {
		w.watchers = map[chan struct{}]struct{}{}
	}
	w.watchers[ch] = struct{}{}
	w.wmu.Unlock()
	ch <- struct{}{}
	return ch, func() { w.wmu.Lock(); delete(w.watchers, ch); w.wmu.Unlock() }, nil
}

// WindowFrame copies the named window's presented surface into buf
// (resized as needed) and returns it with its size.
func (c *Compositor) WindowFrame(name string, buf []byte) ([]byte, int, int, error) {
	c.mu.Lock()
	w, err := c.find(name)
	gone := err == nil && w.gone
	c.mu.Unlock()
	if err != nil || gone {
		return nil, 0, 0, fmt.Errorf("%w: %q", ErrNoWindow, name)
	}
	sf := w.set.Window()
	if sf == nil {
		return buf[:0], 0, 0, nil
	}
	var sw, sh int
	sf.View(func(pix []byte, _ []float32, _ float32, w, h int) {
		sw, sh = w, h
		buf = append(buf[:0], pix...)
	})
	return buf, sw, sh, nil
}

// Input queues an event from a display (never blocks: a full queue
// drops it). An event naming a Window is in that window's surface
// coordinates (a view of the window alone): it focuses the window and
// goes to it.
func (c *Compositor) Input(ev display.Event) {
	select {
	case c.inputs <- ev:
	default:
		c.dropped.Add(1)
	}
}

func (c *Compositor) inputLoop() {
	for {
		select {
		case <-c.closed:
			return
		case ev := <-c.inputs:
			c.route(ev)
		}
	}
}

// route delivers one event: a pointer or touch press focuses and raises
// the window under it; then the focused window's process gets the event
// in its surface's coordinates, if it was granted input.
func (c *Compositor) route(ev display.Event) {
	c.mu.Lock()
	c.place()
	if ev.Window != "" { // from a view of one window: its surface's coordinates
		w, err := c.find(ev.Window)
		if err != nil || w.set.Window() == nil {
			c.mu.Unlock()
			return
		}
		if ev.Action == "down" && c.focus != w {
			c.raised++
			w.order = c.raised
			w.dirty.Store(true)
			c.kick()
		}
		if ev.Action == "down" || ev.Kind == display.Key {
			c.focus = w
		}
		c.mu.Unlock()
		if c.focus == w && w.input != nil {
			data, _ := json.Marshal(ev)
			if err := w.input(ev.Kind, data); err != nil {
				c.log.Debug("input not delivered", "window", w.name, "err", err)
			}
		}
		return
	}
	if (ev.Kind == display.Pointer || ev.Kind == display.Touch) && ev.Action == "down" {
		ws := c.sorted()
		var hit *Window
		for i := len(ws) - 1; i >= 0; i-- {
			if r, _ := ws[i].screenRect(); image.Pt(ev.X, ev.Y).In(r) {
				hit = ws[i]
				break
			}
		}
		if hit != nil && hit != c.focus {
			c.raised++
			hit.order = c.raised
			hit.dirty.Store(true)
			c.kick()
		}
		c.focus = hit
	}
	w := c.focus
	var r image.Rectangle
	var sf *raster.Surface
	if w != nil {
		r, sf = w.screenRect()
	}
	c.mu.Unlock()
	if w == nil || w.input == nil || sf == nil || r.Empty() {
		return
	}
	if ev.Kind == display.Pointer || ev.Kind == display.Touch {
		sw, sh := sf.Size()
		ev.X = (ev.X - r.Min.X) * sw / r.Dx()
		ev.Y = (ev.Y - r.Min.Y) * sh / r.Dy()
	}
	ev.Window = w.name
	data, _ := json.Marshal(ev)
	if err := w.input(ev.Kind, data); err != nil {
		c.log.Debug("input not delivered", "window", w.name, "err", err)
	}
}

// Frames is the number of composites done.
func (c *Compositor) Frames() uint64 { return c.frames.Load() }
