package x11

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/orbitalfoundation/orbital/internal/display"
)

const timeout = 20 * time.Second

// xvfb is an X server started for one test.
type xvfb struct {
	addr, sock, lock string
	cmd              *exec.Cmd
	exited           chan struct{}
}

// kill stops the server and waits for it to exit. SIGTERM lets Xvfb
// remove its socket and lock file; after SIGKILL we remove them.
func (x *xvfb) kill() {
	x.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-x.exited:
		return
	case <-time.After(timeout):
	}
	x.cmd.Process.Kill()
	<-x.exited
	if lockPID(x.lock) == x.cmd.Process.Pid {
		os.Remove(x.sock)
		os.Remove(x.lock)
	}
}

// lockPID returns the process named in an X lock file, or 0.
func lockPID(lock string) int {
	b, _ := os.ReadFile(lock)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// inUse reports whether display n has a live server (a stale lock whose
// process is gone does not count: Xvfb replaces it).
func inUse(n int) bool {
	pid := lockPID(fmt.Sprintf("/tmp/.X%d-lock", n))
	if pid > 0 {
		return syscall.Kill(pid, 0) == nil
	}
	return exists(fmt.Sprintf("/tmp/.X11-unix/X%d", n)) || exists(fmt.Sprintf("/tmp/.X%d-lock", n))
}

// startXvfb starts Xvfb on the first free display from :91 upward.
func startXvfb(t *testing.T) *xvfb {
	t.Helper()
	path, err := exec.LookPath("Xvfb")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Xvfb is required in CI: %v", err)
		}
		t.Skipf("Xvfb not installed (apt-get install xvfb): %v", err)
	}
	for n := 91; n < 200; n++ {
		if inUse(n) {
			continue
		}
		var stderr bytes.Buffer
		x := &xvfb{addr: fmt.Sprintf(":%d", n), sock: fmt.Sprintf("/tmp/.X11-unix/X%d", n),
			lock: fmt.Sprintf("/tmp/.X%d-lock", n), exited: make(chan struct{}),
			cmd: exec.Command(path, fmt.Sprintf(":%d", n), "-screen", "0", "1024x768x24", "-nolisten", "tcp")}
		x.cmd.Stderr = &stderr
		if err := x.cmd.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		go func() { x.cmd.Wait(); close(x.exited) }()
		// Up when the socket exists and the lock names our process (not
		// a concurrent server that took the same number).
		for deadline := time.Now().Add(timeout); !exists(x.sock) || lockPID(x.lock) != x.cmd.Process.Pid; {
			select {
			case <-x.exited:
				t.Logf("Xvfb %s exited: %s", x.addr, stderr.String())
				x = nil
			case <-time.After(20 * time.Millisecond):
			}
			if x == nil {
				break
			}
			if time.Now().After(deadline) {
				x.kill()
				t.Fatalf("Xvfb %s did not come up: %s", x.addr, stderr.String())
			}
		}
		if x != nil {
			t.Cleanup(x.kill)
			return x
		}
	}
	t.Fatal("no free X display number in :91–:199")
	return nil
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// recorder is a Sink that keeps the events it receives.
type recorder struct {
	mu     sync.Mutex
	events []display.Event
}

func (r *recorder) sink(e display.Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

// wait polls until an event matching ok has arrived.
func (r *recorder) wait(t *testing.T, what string, ok func(display.Event) bool) display.Event {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		for _, e := range r.events {
			if ok(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %s event; got %+v", what, r.events)
	return display.Event{}
}

func open(t *testing.T, x *xvfb, w, h int, sink display.Sink) (*Display, *xgb.Conn) {
	t.Helper()
	d, err := Open(Options{Addr: x.addr, Title: "orbital test", Width: w, Height: h, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c, err := xgb.NewConnDisplay(x.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return d, c
}

// frame makes a w×h frame: four coloured quadrants, the bottom-right one
// a gradient, and a half-transparent (premultiplied) band.
func frame(w, h int, seed byte) display.Frame {
	f := display.Frame{W: w, H: h, Stride: 4*w + 8, Pix: make([]byte, (4*w+8)*h)}
	for y := range h {
		for x := range w {
			var p [4]byte
			switch {
			case y >= 100 && y < 110:
				p = [4]byte{64, 32, 16, 128}
			case x < w/2 && y < h/2:
				p = [4]byte{255, 0, 0, 255}
			case y < h/2:
				p = [4]byte{0, 255, 0, 255}
			case x < w/2:
				p = [4]byte{0, 0, 255, 255}
			default:
				p = [4]byte{byte(x), byte(y), byte(x + y), 255}
			}
			p[0] ^= seed
			p[1] ^= seed
			p[2] ^= seed
			copy(f.Pix[y*f.Stride+4*x:], p[:])
		}
	}
	return f
}

// pixels reads the window's pixels back as RGB.
func pixels(t *testing.T, c *xgb.Conn, win xproto.Window, w, h int) [][3]byte {
	t.Helper()
	r, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(win), 0, 0, uint16(w), uint16(h), ^uint32(0)).Reply()
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	if len(r.Data) < 4*w*h {
		t.Fatalf("GetImage: %d bytes for %dx%d", len(r.Data), w, h)
	}
	out := make([][3]byte, w*h)
	for i := range out {
		out[i] = [3]byte{r.Data[4*i+2], r.Data[4*i+1], r.Data[4*i]} // BGRX on Xvfb's little-endian depth 24
	}
	return out
}

// diff lists the window pixels that differ from want(x, y).
func diff(got [][3]byte, w, h int, want func(x, y int) [4]byte) []string {
	var bad []string
	for y := range h {
		for x := range w {
			if p, g := want(x, y), got[y*w+x]; g != [3]byte{p[0], p[1], p[2]} {
				bad = append(bad, fmt.Sprintf("(%d,%d) = %v, want %v", x, y, g, p[:3]))
			}
		}
	}
	return bad
}

// compare checks every window pixel against want(x, y).
func compare(t *testing.T, got [][3]byte, w, h int, want func(x, y int) [4]byte) {
	t.Helper()
	if bad := diff(got, w, h, want); len(bad) > 0 {
		t.Errorf("%d of %d pixels differ: %s", len(bad), w*h, strings.Join(bad[:min(5, len(bad))], ", "))
	}
}

func TestShowAndDirty(t *testing.T) {
	x := startXvfb(t)
	const w, h = 320, 240
	d, c := open(t, x, w, h, nil)
	if d.Name() != "x11" {
		t.Errorf("Name = %q", d.Name())
	}
	t.Logf("max request %d bytes: %d rows of %d pixels per PutImage", d.maxData+24, d.maxData/(4*w), w)

	f1 := frame(w, h, 0)
	if err := d.Show(f1, []image.Rectangle{image.Rect(0, 0, w, h)}); err != nil {
		t.Fatal(err)
	}
	compare(t, pixels(t, c, d.Window(), w, h), w, h, f1.At)

	// Every pixel of f2 differs from f1, but only dirty may be uploaded.
	f2 := frame(w, h, 0x5a)
	dirty := image.Rect(100, 50, 180, 120)
	if err := d.Show(f2, []image.Rectangle{dirty}); err != nil {
		t.Fatal(err)
	}
	compare(t, pixels(t, c, d.Window(), w, h), w, h, func(x, y int) [4]byte {
		if image.Pt(x, y).In(dirty) {
			return f2.At(x, y)
		}
		return f1.At(x, y)
	})
}

func TestExpose(t *testing.T) {
	x := startXvfb(t)
	const w, h = 320, 240
	d, c := open(t, x, w, h, nil)
	f := frame(w, h, 0x11)
	if err := d.Show(f, []image.Rectangle{image.Rect(0, 0, w, h)}); err != nil {
		t.Fatal(err)
	}
	// Cover part of the window with another one, then take it away: the
	// server clears the uncovered part and sends Expose.
	cover, err := xproto.NewWindowId(c)
	if err != nil {
		t.Fatal(err)
	}
	scr := xproto.Setup(c).DefaultScreen(c)
	if err := xproto.CreateWindowChecked(c, scr.RootDepth, cover, scr.Root, 40, 30, 200, 150, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwBackPixel, []uint32{scr.WhitePixel}).Check(); err != nil {
		t.Fatal(err)
	}
	xproto.MapWindow(c, cover)
	if err := xproto.DestroyWindowChecked(c, cover).Check(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		bad := diff(pixels(t, c, d.Window(), w, h), w, h, f.At)
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("window not redrawn after Expose: %d pixels differ: %s", len(bad), bad[0])
		}
	}
}

func TestClip(t *testing.T) {
	x := startXvfb(t)
	const w, h = 320, 240
	d, c := open(t, x, w, h, nil)
	big := frame(400, 300, 0x33)
	outside := []image.Rectangle{image.Rect(500, 400, 600, 500), image.Rect(-50, -50, -1, -1), image.Rect(330, 0, 400, 300)}
	if err := d.Show(big, append(outside, image.Rect(-10, -10, 1000, 1000))); err != nil {
		t.Fatal(err)
	}
	compare(t, pixels(t, c, d.Window(), w, h), w, h, big.At)
	if err := d.Show(frame(400, 300, 0), outside); err != nil {
		t.Fatal(err)
	}
	compare(t, pixels(t, c, d.Window(), w, h), w, h, big.At)
	// A frame smaller than the window updates only what it covers.
	small := frame(100, 80, 0x77)
	if err := d.Show(small, []image.Rectangle{image.Rect(0, 0, w, h)}); err != nil {
		t.Fatal(err)
	}
	compare(t, pixels(t, c, d.Window(), w, h), w, h, func(x, y int) [4]byte {
		if x < 100 && y < 80 {
			return small.At(x, y)
		}
		return big.At(x, y)
	})
}

func TestInput(t *testing.T) {
	x := startXvfb(t)
	var rec recorder
	d, c := open(t, x, 320, 240, rec.sink)
	if err := xtest.Init(c); err != nil {
		t.Fatalf("XTEST: %v", err)
	}
	s := xproto.Setup(c)
	root := s.DefaultScreen(c).Root
	km, err := xproto.GetKeyboardMapping(c, s.MinKeycode, byte(int(s.MaxKeycode)-int(s.MinKeycode)+1)).Reply()
	if err != nil {
		t.Fatal(err)
	}
	var keyA xproto.Keycode
	for i, ks := range km.Keysyms {
		if ks == 'a' {
			keyA = xproto.Keycode(i/int(km.KeysymsPerKeycode) + int(s.MinKeycode))
			break
		}
	}
	if keyA == 0 {
		t.Fatal("no keycode for keysym a")
	}
	pos, err := xproto.TranslateCoordinates(c, d.Window(), root, 50, 60).Reply()
	if err != nil {
		t.Fatal(err)
	}
	if err := xproto.SetInputFocusChecked(c, xproto.InputFocusParent, d.Window(), xproto.TimeCurrentTime).Check(); err != nil {
		t.Fatal(err)
	}
	fake := func(typ, detail byte) {
		t.Helper()
		if err := xtest.FakeInputChecked(c, typ, detail, 0, root, pos.DstX, pos.DstY, 0).Check(); err != nil {
			t.Fatalf("FakeInput %d: %v", typ, err)
		}
	}
	fake(xproto.MotionNotify, 0)
	rec.wait(t, "move", func(e display.Event) bool {
		return e.Kind == display.Pointer && e.Action == "move" && e.X == 50 && e.Y == 60
	})
	fake(xproto.ButtonPress, 1)
	fake(xproto.ButtonRelease, 1)
	fake(xproto.KeyPress, byte(keyA))
	fake(xproto.KeyRelease, byte(keyA))
	down := rec.wait(t, "down", func(e display.Event) bool { return e.Kind == display.Pointer && e.Action == "down" })
	up := rec.wait(t, "up", func(e display.Event) bool { return e.Kind == display.Pointer && e.Action == "up" })
	if down.X != 50 || down.Y != 60 || down.Button != 1 || down.Buttons != 1 {
		t.Errorf("down = %+v", down)
	}
	if up.X != 50 || up.Y != 60 || up.Button != 1 || up.Buttons != 0 {
		t.Errorf("up = %+v", up)
	}
	key := rec.wait(t, "key down", func(e display.Event) bool { return e.Kind == display.Key && e.Action == "down" })
	if key.Key != "a" || key.Code != int(keyA) || key.Mods != 0 {
		t.Errorf("key = %+v, want a/%d", key, keyA)
	}
	rec.wait(t, "key up", func(e display.Event) bool { return e.Kind == display.Key && e.Action == "up" && e.Key == "a" })
}

func TestServerGone(t *testing.T) {
	x := startXvfb(t)
	d, _ := open(t, x, 320, 240, nil)
	f := frame(320, 240, 0)
	all := []image.Rectangle{image.Rect(0, 0, 320, 240)}
	if err := d.Show(f, all); err != nil {
		t.Fatal(err)
	}
	x.kill()
	if err := d.Show(f, all); err == nil {
		t.Fatal("Show after the X server died: no error")
	} else {
		t.Logf("Show: %v", err)
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done: // both the event and the redrawing goroutine
	case <-time.After(timeout):
		t.Fatal("event goroutine still running after the X server died")
	}
	if err := d.Show(f, all); err == nil {
		t.Fatal("second Show: no error")
	}
	d.Close()
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{Addr: ":1", Width: 0, Height: 10}); err == nil {
		t.Error("Open 0x10: no error")
	}
	_, err := Open(Options{Addr: "/nonexistent/socket:7", Width: 10, Height: 10})
	if err == nil || !strings.Contains(err.Error(), "x11: connect /nonexistent/socket:7") {
		t.Errorf("Open bad address: %v", err)
	}
}

func TestKeyNamesAndMasks(t *testing.T) {
	for ks, want := range map[xproto.Keysym]string{
		'a': "a", 'Z': "Z", ' ': " ", 0xe9: "é", 0xff0d: "Enter", 0xff1b: "Escape", 0xff08: "Backspace",
		0xff09: "Tab", 0xff51: "ArrowLeft", 0xff53: "ArrowRight", 0xff52: "ArrowUp", 0xff54: "ArrowDown",
		0xffe1: "Shift", 0xffe4: "Control", 0xffbe: "F1", 0xffc9: "F12", 0x010020ac: "€", 0xfe03: "",
	} {
		if got := keyName(ks); got != want {
			t.Errorf("keyName(%#x) = %q, want %q", ks, got, want)
		}
	}
	if m := mods(xproto.ModMaskShift | xproto.ModMaskControl | xproto.ModMask1 | xproto.ModMask4 | xproto.ModMaskLock); m != display.ModShift|display.ModCtrl|display.ModAlt|display.ModMeta {
		t.Errorf("mods = %b", m)
	}
	if b := buttons(xproto.KeyButMaskButton1 | xproto.KeyButMaskButton3 | xproto.ModMaskShift); b != 5 {
		t.Errorf("buttons = %b", b)
	}
}
