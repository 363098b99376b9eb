package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/orbitalfoundation/orbital/internal/control"
)

// TestBinaryX11Display runs a real `orbital up` (of bin/orbital-server,
// built with the X11 display) whose [screen] opens an X11
// window on a private Xvfb, with one process (rasterwat: a red 64x64
// window), and checks that the X window shows exactly what
// `orbital screenshot` says is on the screen: every pixel, RGB. Without
// Xvfb the test is skipped, unless $CI is set.
func TestBinaryX11Display(t *testing.T) {
	x := startXServer(t)
	home := newHome(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "node.toml", []byte(fmt.Sprintf(`[node]
control = "127.0.0.1:0"
module_path = [%q]

[screen]
size = "320x240"
displays = ["x11"]
x11 = %q

[[process]]
name = "rasterwat"
module = "rasterwat"
display = "64x64"
`, filepath.Dir(wasm(t, "rasterwat")), x.addr)))
	// The X11 display is in builds with -tags x11: bin/orbital-server's.
	node := &child{cmd: exec.Command(serverBin(), "up", cfg), stderr: &syncBuffer{}, done: make(chan struct{})}
	node.cmd.Stderr = node.stderr
	if err := node.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { node.err = node.cmd.Wait(); close(node.done) }()
	t.Cleanup(func() {
		select {
		case <-node.done:
		default:
			_ = node.cmd.Process.Kill()
			<-node.done
		}
	})
	checkFor(t, time.Minute, "node.json", func() bool {
		select {
		case <-node.done:
			t.Fatalf("orbital up exited: %v\n%s", node.err, node.stderr)
		default:
		}
		_, err := os.Stat(control.InfoPath(home))
		return err == nil
	})
	c, err := control.Dial(home)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checkFor(t, time.Minute, "rasterwat's window to be presented", func() bool {
		info, err := c.Screen(ctx)
		if err != nil {
			return false
		}
		for _, w := range info.Windows {
			if w.Name == "rasterwat" && w.Visible && w.Presents > 0 {
				return true
			}
		}
		return false
	})
	info, err := c.Screen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 320 || info.Height != 240 || strings.Join(info.Displays, ",") != "x11" {
		t.Fatalf("screen %dx%d on %v, want 320x240 on x11", info.Width, info.Height, info.Displays)
	}

	xc, err := xgb.NewConnDisplay(x.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer xc.Close()
	win := findXWindow(t, xc, "Orbital")

	shot := filepath.Join(dir, "screen.png")
	var bad []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, out, errOut := runBinary(t, "", "screenshot", shot); code != 0 {
			t.Fatalf("orbital screenshot: exit %d\n%s%s", code, out, errOut)
		}
		want := readPNG(t, shot)
		if b := want.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
			t.Fatalf("screenshot is %v, want 320x240", b)
		}
		if r, g, b, _ := want.At(info.Windows[0].X+32, info.Windows[0].Y+32).RGBA(); r>>8 != 255 || g>>8 != 0 || b>>8 != 0 {
			t.Fatalf("screenshot: the middle of rasterwat's window is %d,%d,%d, want red", r>>8, g>>8, b>>8)
		}
		got := xPixels(t, xc, win, 320, 240)
		bad = bad[:0]
		for y := range 240 {
			for x := range 320 {
				r, g, b, _ := want.At(x, y).RGBA()
				if w := [3]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)}; got[y*320+x] != w {
					bad = append(bad, fmt.Sprintf("(%d,%d) = %v, want %v", x, y, got[y*320+x], w))
				}
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) { // the window may lag a frame behind: look again
			t.Fatalf("%d of %d pixels of the X window differ from orbital screenshot: %s\norbital up stderr:\n%s",
				len(bad), 320*240, strings.Join(bad[:min(5, len(bad))], ", "), node.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	_ = node.cmd.Process.Signal(syscall.SIGTERM)
	if code := node.wait(t); code != 0 {
		t.Fatalf("orbital up exited %d after SIGTERM\n%s", code, node.stderr)
	}
}

// findXWindow returns the top-level window titled title (WM_NAME), waiting
// for it to be mapped.
func findXWindow(t *testing.T, c *xgb.Conn, title string) xproto.Window {
	t.Helper()
	root := xproto.Setup(c).DefaultScreen(c).Root
	var found xproto.Window
	checkFor(t, 20*time.Second, "an X window titled "+title, func() bool {
		tree, err := xproto.QueryTree(c, root).Reply()
		if err != nil {
			t.Fatalf("QueryTree: %v", err)
		}
		for _, w := range tree.Children {
			p, err := xproto.GetProperty(c, false, w, xproto.AtomWmName, xproto.AtomString, 0, 256).Reply()
			if err != nil || string(p.Value) != title {
				continue
			}
			if a, err := xproto.GetWindowAttributes(c, w).Reply(); err == nil && a.MapState == xproto.MapStateViewable {
				found = w
				return true
			}
		}
		return false
	})
	return found
}

// xPixels reads a window's pixels as RGB (a 24- or 32-bit TrueColor visual
// with 32 bits per pixel, least significant byte first: BGRX, as Xvfb's).
func xPixels(t *testing.T, c *xgb.Conn, win xproto.Window, w, h int) [][3]byte {
	t.Helper()
	if s := xproto.Setup(c); s.ImageByteOrder != xproto.ImageOrderLSBFirst {
		t.Fatalf("X server image byte order %d: want LSB first", s.ImageByteOrder)
	}
	r, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(win), 0, 0, uint16(w), uint16(h), ^uint32(0)).Reply()
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	if len(r.Data) < 4*w*h || (r.Depth != 24 && r.Depth != 32) {
		t.Fatalf("GetImage: %d bytes of depth %d for %dx%d", len(r.Data), r.Depth, w, h)
	}
	out := make([][3]byte, w*h)
	for i := range out {
		out[i] = [3]byte{r.Data[4*i+2], r.Data[4*i+1], r.Data[4*i]}
	}
	return out
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// xServer is an Xvfb started for one test (the approach of
// internal/display/x11's tests).
type xServer struct {
	addr, sock, lock string
	cmd              *exec.Cmd
	exited           chan struct{}
}

// kill stops the server and waits for it: SIGTERM lets Xvfb remove its
// socket and lock file; after SIGKILL we remove them.
func (x *xServer) kill() {
	_ = x.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-x.exited:
		return
	case <-time.After(20 * time.Second):
	}
	_ = x.cmd.Process.Kill()
	<-x.exited
	if xLockPID(x.lock) == x.cmd.Process.Pid {
		os.Remove(x.sock)
		os.Remove(x.lock)
	}
}

// xLockPID returns the process named in an X lock file, or 0.
func xLockPID(lock string) int {
	b, _ := os.ReadFile(lock)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

// xInUse reports whether display n has a live server (a stale lock whose
// process is gone does not count: Xvfb replaces it).
func xInUse(n int) bool {
	if pid := xLockPID(fmt.Sprintf("/tmp/.X%d-lock", n)); pid > 0 {
		return syscall.Kill(pid, 0) == nil
	}
	return fileExists(fmt.Sprintf("/tmp/.X11-unix/X%d", n)) || fileExists(fmt.Sprintf("/tmp/.X%d-lock", n))
}

// startXServer starts Xvfb on the first free display from :121 upward
// (internal/display/x11's tests start at :91).
func startXServer(t *testing.T) *xServer {
	t.Helper()
	path, err := exec.LookPath("Xvfb")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Xvfb is required in CI (apt-get install xvfb): %v", err)
		}
		t.Skipf("Xvfb not installed (apt-get install xvfb): %v", err)
	}
	for n := 121; n < 250; n++ {
		if xInUse(n) {
			continue
		}
		var stderr syncBuffer
		x := &xServer{addr: fmt.Sprintf(":%d", n), sock: fmt.Sprintf("/tmp/.X11-unix/X%d", n),
			lock: fmt.Sprintf("/tmp/.X%d-lock", n), exited: make(chan struct{}),
			cmd: exec.Command(path, fmt.Sprintf(":%d", n), "-screen", "0", "1024x768x24", "-nolisten", "tcp")}
		x.cmd.Stderr = &stderr
		if err := x.cmd.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		go func() { _ = x.cmd.Wait(); close(x.exited) }()
		// Up when the socket exists and the lock names our process (not a
		// concurrent server that took the same number).
		up := false
		for deadline := time.Now().Add(20 * time.Second); !up; {
			if fileExists(x.sock) && xLockPID(x.lock) == x.cmd.Process.Pid {
				up = true
				break
			}
			select {
			case <-x.exited:
				t.Logf("Xvfb %s exited: %s", x.addr, stderr.String())
			case <-time.After(20 * time.Millisecond):
				if time.Now().After(deadline) {
					x.kill()
					t.Fatalf("Xvfb %s did not come up: %s", x.addr, stderr.String())
				}
				continue
			}
			break
		}
		if up {
			t.Cleanup(x.kill)
			return x
		}
	}
	t.Fatal("no free X display number in :121–:249")
	return nil
}
