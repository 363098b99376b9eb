// Package x11 shows composited frames in a native X11 window, in pure Go
// over the X protocol (github.com/jezek/xgb, no cgo), and reports the
// window's keyboard and pointer input to a display.Sink.
//
// The window is the screen: window coordinates are screen coordinates.
// Event.Buttons has bit 1<<(n-1) set for each held button n (1 left,
// 2 middle, 4 right).
package x11

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math/bits"
	"os"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/orbitalfoundation/orbital/internal/display"
)

// Options configure Open.
type Options struct {
	Addr          string       // the X display, e.g. ":0"; "" means $DISPLAY
	Title         string       // the window title
	Width, Height int          // the window size in pixels
	Sink          display.Sink // receives input events; may be nil
}

// Display is an X11 window showing frames. It implements display.Display.
type Display struct {
	conn       *xgb.Conn
	win        xproto.Window
	gc         xproto.Gcontext
	depth      byte
	w, h       int
	rs, gs, bs uint             // bit shifts of red, green and blue in a pixel
	order      binary.ByteOrder // the server's image byte order
	maxData    int              // most image bytes in one PutImage request
	sink       display.Sink
	minKey     int
	perKey     int
	keysyms    []xproto.Keysym
	wmProtocol xproto.Atom
	wmDelete   xproto.Atom

	mu  sync.Mutex // guards buf and serialises uploads
	buf []byte     // the last frame in the server's pixel format, w×h×4

	exposeMu sync.Mutex
	exposed  image.Rectangle // area to redraw, from Expose events
	kick     chan struct{}   // wakes the redrawing goroutine

	errMu sync.Mutex
	err   error // set once the connection is closed or lost

	quit      chan struct{} // closed by Close
	gone      chan struct{} // closed when the event goroutine ends
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var errClosed = errors.New("x11: display closed")

// Open connects to the X server, creates and maps a window of the given
// size and starts reading its events.
func Open(o Options) (*Display, error) {
	addr := o.Addr
	if addr == "" {
		addr = os.Getenv("DISPLAY")
	}
	if o.Width <= 0 || o.Height <= 0 || o.Width > 32767 || o.Height > 32767 {
		return nil, fmt.Errorf("x11: window size %dx%d out of range", o.Width, o.Height)
	}
	conn, err := xgb.NewConnDisplay(addr)
	if err != nil {
		return nil, fmt.Errorf("x11: connect %s: %w", addr, err)
	}
	d, err := setup(conn, o)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("x11: %s: %w", addr, err)
	}
	d.wg.Add(2)
	go d.events()
	go d.redraw()
	return d, nil
}

func setup(conn *xgb.Conn, o Options) (*Display, error) {
	s := xproto.Setup(conn)
	scr := s.DefaultScreen(conn)
	d := &Display{
		conn: conn, depth: scr.RootDepth, w: o.Width, h: o.Height, sink: o.Sink,
		order: binary.LittleEndian, maxData: int(s.MaximumRequestLength)*4 - 24,
		buf: make([]byte, o.Width*o.Height*4), kick: make(chan struct{}, 1), quit: make(chan struct{}), gone: make(chan struct{}),
	}
	if s.ImageByteOrder == xproto.ImageOrderMSBFirst {
		d.order = binary.BigEndian
	}
	bpp := 0
	for _, f := range s.PixmapFormats {
		if f.Depth == scr.RootDepth {
			bpp = int(f.BitsPerPixel)
		}
	}
	var vis *xproto.VisualInfo
	for _, dp := range scr.AllowedDepths {
		for i, v := range dp.Visuals {
			if v.VisualId == scr.RootVisual {
				vis = &dp.Visuals[i]
			}
		}
	}
	if vis == nil || vis.Class != xproto.VisualClassTrueColor || bpp != 32 || (d.depth != 24 && d.depth != 32) {
		return nil, fmt.Errorf("unsupported visual: depth %d, %d bits per pixel (want 24/32-bit TrueColor)", d.depth, bpp)
	}
	for _, m := range []struct {
		mask  uint32
		shift *uint
	}{{vis.RedMask, &d.rs}, {vis.GreenMask, &d.gs}, {vis.BlueMask, &d.bs}} {
		*m.shift = uint(bits.TrailingZeros32(m.mask))
		if m.mask != 0xff<<*m.shift {
			return nil, fmt.Errorf("unsupported visual masks %#x/%#x/%#x", vis.RedMask, vis.GreenMask, vis.BlueMask)
		}
	}

	km, err := xproto.GetKeyboardMapping(conn, s.MinKeycode, byte(int(s.MaxKeycode)-int(s.MinKeycode)+1)).Reply()
	if err != nil {
		return nil, fmt.Errorf("keyboard mapping: %w", err)
	}
	d.minKey, d.perKey, d.keysyms = int(s.MinKeycode), int(km.KeysymsPerKeycode), km.Keysyms
	if d.wmProtocol, err = atom(conn, "WM_PROTOCOLS"); err == nil {
		d.wmDelete, err = atom(conn, "WM_DELETE_WINDOW")
	}
	if err != nil {
		return nil, err
	}

	win, err := xproto.NewWindowId(conn)
	if err != nil {
		return nil, fmt.Errorf("window id: %w", err)
	}
	mask := uint32(xproto.EventMaskKeyPress | xproto.EventMaskKeyRelease | xproto.EventMaskButtonPress |
		xproto.EventMaskButtonRelease | xproto.EventMaskPointerMotion | xproto.EventMaskExposure |
		xproto.EventMaskStructureNotify)
	if err := xproto.CreateWindowChecked(conn, d.depth, win, scr.Root, 0, 0, uint16(d.w), uint16(d.h), 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwBackPixel|xproto.CwEventMask,
		[]uint32{scr.BlackPixel, mask}).Check(); err != nil {
		return nil, fmt.Errorf("create window: %w", err)
	}
	d.win = win
	gc, err := xproto.NewGcontextId(conn)
	if err != nil {
		return nil, fmt.Errorf("gc id: %w", err)
	}
	if err := xproto.CreateGCChecked(conn, gc, xproto.Drawable(win), 0, nil).Check(); err != nil {
		return nil, fmt.Errorf("create gc: %w", err)
	}
	d.gc = gc

	prop := func(p, typ xproto.Atom, format byte, n int, data []byte) {
		xproto.ChangeProperty(conn, xproto.PropModeReplace, win, p, typ, format, uint32(n), data)
	}
	prop(xproto.AtomWmName, xproto.AtomString, 8, len(o.Title), []byte(o.Title))
	if name, err := atom(conn, "_NET_WM_NAME"); err == nil {
		if utf8, err := atom(conn, "UTF8_STRING"); err == nil {
			prop(name, utf8, 8, len(o.Title), []byte(o.Title))
		}
	}
	prop(xproto.AtomWmClass, xproto.AtomString, 8, 16, []byte("orbital\x00Orbital\x00"))
	prop(d.wmProtocol, xproto.AtomAtom, 32, 1, binary.LittleEndian.AppendUint32(nil, uint32(d.wmDelete)))
	// WM_NORMAL_HINTS: a fixed size (PMinSize|PMaxSize), so that a window
	// manager does not stretch the screen.
	hints := make([]byte, 18*4)
	for i, v := range [9]uint32{0: 16 | 32, 5: uint32(d.w), 6: uint32(d.h), 7: uint32(d.w), 8: uint32(d.h)} {
		binary.LittleEndian.PutUint32(hints[4*i:], v)
	}
	prop(xproto.AtomWmNormalHints, xproto.AtomWmSizeHints, 32, 18, hints)
	if err := xproto.MapWindowChecked(conn, win).Check(); err != nil {
		return nil, fmt.Errorf("map window: %w", err)
	}
	return d, nil
}

func atom(conn *xgb.Conn, name string) (xproto.Atom, error) {
	r, err := xproto.InternAtom(conn, false, uint16(len(name)), name).Reply()
	if err != nil {
		return 0, fmt.Errorf("intern atom %s: %w", name, err)
	}
	return r.Atom, nil
}

// Name returns "x11".
func (d *Display) Name() string { return "x11" }

// Window returns the X window the frames are shown in.
func (d *Display) Window() xproto.Window { return d.win }

// Show uploads the dirty rectangles of f, clipped to the window, and
// waits until the X server has processed them.
func (d *Display) Show(f display.Frame, dirty []image.Rectangle) error {
	if err := d.failed(); err != nil {
		return err
	}
	bounds := image.Rect(0, 0, min(f.W, d.w), min(f.H, d.h))
	d.mu.Lock()
	var cookies []xproto.PutImageCookie
	for _, r := range dirty {
		if r = r.Intersect(bounds); r.Empty() {
			continue
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src, dst := f.Pix[y*f.Stride+4*r.Min.X:], d.buf[(y*d.w+r.Min.X)*4:]
			for i := 0; i < 4*r.Dx(); i += 4 {
				d.order.PutUint32(dst[i:], uint32(src[i])<<d.rs|uint32(src[i+1])<<d.gs|uint32(src[i+2])<<d.bs)
			}
		}
		cookies = d.put(r, true, cookies)
	}
	d.mu.Unlock()
	// Waiting outside mu: the redrawing goroutine may upload meanwhile.
	for _, c := range cookies {
		if err := c.Check(); err != nil {
			return fmt.Errorf("x11: put image: %w", err)
		}
	}
	return d.failed()
}

// put uploads rectangle r of d.buf in strips that each fit in one request.
// The caller holds d.mu.
func (d *Display) put(r image.Rectangle, checked bool, cookies []xproto.PutImageCookie) []xproto.PutImageCookie {
	cols := min(r.Dx(), d.maxData/4)
	for x0 := r.Min.X; x0 < r.Max.X; x0 += cols {
		x1 := min(x0+cols, r.Max.X)
		row := 4 * (x1 - x0)
		rows := max(1, d.maxData/row)
		for y0 := r.Min.Y; y0 < r.Max.Y; y0 += rows {
			y1 := min(y0+rows, r.Max.Y)
			data := make([]byte, 0, row*(y1-y0))
			for y := y0; y < y1; y++ {
				data = append(data, d.buf[(y*d.w+x0)*4:(y*d.w+x1)*4]...)
			}
			put := xproto.PutImage
			if checked {
				put = xproto.PutImageChecked
			}
			c := put(d.conn, xproto.ImageFormatZPixmap, xproto.Drawable(d.win), d.gc,
				uint16(x1-x0), uint16(y1-y0), int16(x0), int16(y0), 0, d.depth, data)
			if checked {
				cookies = append(cookies, c)
			}
		}
	}
	return cookies
}

// Close destroys the window and closes the connection.
func (d *Display) Close() error {
	d.closeOnce.Do(func() {
		d.fail(errClosed)
		close(d.quit)
		xproto.DestroyWindow(d.conn, d.win)
		d.conn.Close()
		d.wg.Wait()
	})
	return nil
}

func (d *Display) fail(err error) {
	d.errMu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.errMu.Unlock()
}

func (d *Display) failed() error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return d.err
}

// redraw re-uploads exposed areas from the last frame. It runs apart from
// events so that reading events never waits on the X connection.
func (d *Display) redraw() {
	defer d.wg.Done()
	for {
		select {
		case <-d.quit:
			return
		case <-d.gone:
			return
		case <-d.kick:
		}
		d.exposeMu.Lock()
		r := d.exposed.Intersect(image.Rect(0, 0, d.w, d.h))
		d.exposed = image.Rectangle{}
		d.exposeMu.Unlock()
		if !r.Empty() && d.failed() == nil {
			d.mu.Lock()
			d.put(r, false, nil)
			d.mu.Unlock()
		}
	}
}

// events reads the X connection until it closes, turning input into
// display events.
func (d *Display) events() {
	defer d.wg.Done()
	defer close(d.gone)
	for {
		ev, xerr := d.conn.WaitForEvent()
		if ev == nil && xerr == nil {
			d.fail(errors.New("x11: connection to the X server lost"))
			return
		}
		if xerr != nil {
			continue // the error of an unchecked request: nothing to do
		}
		switch e := ev.(type) {
		case xproto.ExposeEvent:
			d.exposeMu.Lock()
			d.exposed = d.exposed.Union(image.Rect(int(e.X), int(e.Y), int(e.X)+int(e.Width), int(e.Y)+int(e.Height)))
			d.exposeMu.Unlock()
			select {
			case d.kick <- struct{}{}:
			default:
			}
		case xproto.ClientMessageEvent:
			// WM_DELETE_WINDOW: the node owns the window, so it stays.
		case xproto.MotionNotifyEvent:
			d.emit(display.Event{Kind: display.Pointer, Action: "move", X: int(e.EventX), Y: int(e.EventY),
				Buttons: buttons(e.State), Mods: mods(e.State)})
		case xproto.ButtonPressEvent:
			d.button(e.Detail, e.State, e.EventX, e.EventY, true)
		case xproto.ButtonReleaseEvent:
			d.button(e.Detail, e.State, e.EventX, e.EventY, false)
		case xproto.KeyPressEvent:
			d.emit(display.Event{Kind: display.Key, Action: "down", Code: int(e.Detail),
				Key: keyName(d.keysym(e.Detail, e.State)), Mods: mods(e.State)})
		case xproto.KeyReleaseEvent:
			d.emit(display.Event{Kind: display.Key, Action: "up", Code: int(e.Detail),
				Key: keyName(d.keysym(e.Detail, e.State)), Mods: mods(e.State)})
		}
	}
}

func (d *Display) emit(e display.Event) {
	if d.sink != nil {
		d.sink(e)
	}
}

func (d *Display) button(b xproto.Button, state uint16, x, y int16, down bool) {
	e := display.Event{Kind: display.Pointer, X: int(x), Y: int(y), Mods: mods(state)}
	switch {
	case b >= 1 && b <= 3:
		e.Button, e.Buttons, e.Action = int(b), buttons(state)&^(1<<(b-1)), "up"
		if down {
			e.Buttons |= 1 << (b - 1)
			e.Action = "down"
		}
	case !down || b > 7:
		return // wheel buttons report on press only; 8 and up are unmapped
	default:
		e.Action, e.Buttons = "wheel", buttons(state)
		e.DX, e.DY = wheel[b][0], wheel[b][1]
	}
	d.emit(e)
}

// wheel maps buttons 4–7 to wheel steps: up, down, left, right.
var wheel = [8][2]int{4: {0, -1}, 5: {0, 1}, 6: {-1, 0}, 7: {1, 0}}

// buttons turns an X state mask into Event.Buttons bits.
func buttons(state uint16) int {
	return int(state>>8) & 7 // Button1Mask (1<<8) … Button3Mask (1<<10)
}

// mods turns an X state mask into display.Mod* bits.
func mods(state uint16) int {
	m := 0
	for _, b := range [...][2]int{{xproto.ModMaskShift, display.ModShift}, {xproto.ModMaskControl, display.ModCtrl},
		{xproto.ModMask1, display.ModAlt}, {xproto.ModMask4, display.ModMeta}} {
		if int(state)&b[0] != 0 {
			m |= b[1]
		}
	}
	return m
}

// keysym looks up the keysym of a keycode, shifted when Shift is held.
func (d *Display) keysym(code xproto.Keycode, state uint16) xproto.Keysym {
	i := (int(code) - d.minKey) * d.perKey
	if d.perKey == 0 || i < 0 || i+d.perKey > len(d.keysyms) {
		return 0
	}
	syms := d.keysyms[i : i+d.perKey]
	ks := syms[0]
	if state&xproto.ModMaskShift != 0 && d.perKey > 1 && syms[1] != 0 {
		ks = syms[1]
	} else if state&xproto.ModMaskLock != 0 && ks >= 'a' && ks <= 'z' {
		ks -= 'a' - 'A'
	}
	return ks
}

var keyNames = map[xproto.Keysym]string{
	0xff0d: "Enter", 0xff8d: "Enter", 0xff1b: "Escape", 0xff08: "Backspace", 0xff09: "Tab",
	0xff51: "ArrowLeft", 0xff52: "ArrowUp", 0xff53: "ArrowRight", 0xff54: "ArrowDown",
	0xffe1: "Shift", 0xffe2: "Shift", 0xffe3: "Control", 0xffe4: "Control",
	0xffe9: "Alt", 0xffea: "Alt", 0xffeb: "Meta", 0xffec: "Meta",
	0xff50: "Home", 0xff57: "End", 0xff55: "PageUp", 0xff56: "PageDown", 0xff63: "Insert", 0xffff: "Delete",
}

// keyName translates a keysym into Event.Key: the character of a
// printable Latin-1 or Unicode keysym, the name of a common key, or "".
func keyName(ks xproto.Keysym) string {
	switch {
	case ks >= 0x20 && ks <= 0x7e || ks >= 0xa0 && ks <= 0xff:
		return string(rune(ks))
	case ks >= 0x01000100 && ks <= 0x0110ffff: // Unicode keysyms
		return string(rune(ks - 0x01000000))
	case ks >= 0xffbe && ks <= 0xffc9: // F1…F12
		return fmt.Sprintf("F%d", ks-0xffbe+1)
	}
	return keyNames[ks]
}
