package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
)

// TestScreenInBrowser drives the admin panel's Screen page of a real
// `orbital up` (the demo system) in headless Chromium: the canvas shows
// the node's screen streamed over /api/v1/screen/stream, the spinning
// cube's window changes from one readback of the canvas to the next while
// the background around the windows does not, and a click on the canvas
// reaches the paint window (its surface, from `orbital screenshot
// --window paint`, turns from white where it was clicked). It logs the
// frames per second the page receives. Leaving the page ends the stream
// (the compositor's "browser" display goes); in Apps, a tab shows its
// process's window live and takes input in the window's coordinates, or
// says it has no display surface.
//
// Screenshots and canvas readbacks go to $ORBITAL_ARTIFACTS (default: a
// temporary directory). Without Chromium the test is skipped, unless $CI
// is set.
func TestScreenInBrowser(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found (scripts/install-deps.sh chromium installs it)")
		}
		t.Skip("chromium not found; install it with scripts/install-deps.sh chromium")
	}
	artifacts := os.Getenv("ORBITAL_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	} else if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	home := newHome(t)
	// The demo config looks in $ORBITAL_HOME/modules and ./build/wasm.
	wasm(t, "cube")
	if err := os.Symlink(filepath.Dir(wasm(t, "paint")), filepath.Join(home, "modules")); err != nil {
		t.Fatal(err)
	}
	node := startDemo(t)
	checkFor(t, time.Minute, "node.json", func() bool {
		_, err := os.Stat(control.InfoPath(home))
		return err == nil
	})
	c, err := control.Dial(home)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	screen := func() api.ScreenInfo {
		t.Helper()
		info, err := c.Screen(ctx)
		if err != nil {
			t.Fatalf("GET /api/v1/screen: %v\norbital up stderr:\n%s", err, node.stderr)
		}
		return info
	}
	var info api.ScreenInfo
	checkFor(t, time.Minute, "the cube and paint windows", func() bool {
		info = screen()
		cube, paint := window(info, "cube"), window(info, "paint")
		return cube.Visible && cube.Presents > 1 && paint.Visible && paint.Presents > 0
	})
	code, out, errOut := runBinary(t, "", "admin", "url")
	link := strings.TrimSpace(out)
	if code != 0 || !strings.Contains(link, "/admin/login?token=") {
		t.Fatalf("orbital admin url: %d %q %s", code, out, errOut)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser: no timeout
		t.Fatalf("starting chromium: %v", err)
	}
	fail := func(what string, err error) {
		t.Helper()
		t.Fatalf("%s: %v\norbital up stderr:\n%s", what, err, node.stderr)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := browse(browser, chromedp.Steps(steps...)); err != nil {
			fail(what, err)
		}
	}
	until := func(what, expr string) {
		t.Helper()
		if _, err := browse(browser, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(25*time.Second))); err != nil {
			fail(what, err)
		}
	}
	see := func(sel string) {
		t.Helper()
		until(sel, `((e) => !!e && e.getClientRects().length > 0)(document.querySelector(`+jsString(sel)+`))`)
	}
	eval := func(what, expr string) string {
		t.Helper()
		s, err := browse(browser, chromedp.Evaluate[string](expr))
		if err != nil {
			fail(what, err)
		}
		return s
	}
	save := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(artifacts, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := browse(browser, chromedp.FullScreenshot(100))
		if err != nil {
			fail("screenshot "+name, err)
		}
		save(name+".png", png)
	}
	view := func(name string) {
		t.Helper()
		run("open "+name, chromedp.Click(chromedp.CSS(`a[data-nav="`+name+`"]`)))
		see(`section[data-view="` + name + `"]`)
	}
	const canvas = `document.querySelector('#screen-box canvas')`
	// readback is the Screen page's canvas, as a PNG and decoded.
	readback := func(name string) image.Image {
		t.Helper()
		url := eval("canvas readback", canvas+`.toDataURL('image/png')`)
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(url, "data:image/png;base64,"))
		if err != nil {
			t.Fatalf("canvas readback: %v", err)
		}
		save(name+".png", b)
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("canvas readback: %v", err)
		}
		return img
	}
	frames := func(sel string) int {
		t.Helper()
		n, err := strconv.Atoi(eval("frames drawn", `document.querySelector(`+jsString(sel)+`).dataset.frames`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	run("log in", chromedp.Navigate(link))
	see(`#conn[data-conn="live"]`)

	// The Screen page: the canvas takes the screen's size and shows more
	// than the background (0x18, 0x1c, 0x20).
	view("screen")
	until("the screen on the canvas", `((c) => {
		if (!c || c.width !== `+strconv.Itoa(info.Width)+` || c.height !== `+strconv.Itoa(info.Height)+`) return false;
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255 && (d[i] !== 0x18 || d[i + 1] !== 0x1c || d[i + 2] !== 0x20)) return true;
		return false; })(document.querySelector('#screen-box[data-stream="live"] canvas'))`)
	if info = screen(); !slices.Contains(info.Displays, "browser") {
		t.Errorf("while the Screen page is open the displays are %v, want the browser among them", info.Displays)
	}

	// Bring the cube to the front with its name in the window list (the
	// demo's windows overlap).
	run("focus the cube", chromedp.Click(chromedp.CSS(`#screen-wins [data-window="cube"]`)))
	checkFor(t, 20*time.Second, "the cube to have the focus", func() bool { return screen().Focus == "cube" })
	see(`#screen-wins [data-window="cube"][data-focused="true"]`)

	// Two readbacks 300 ms apart: the cube spins, nothing else moves.
	a := readback("screen-canvas-1")
	run("wait", chromedp.Sleep(300*time.Millisecond))
	b := readback("screen-canvas-2")
	info = screen()
	var inCube, outside int
	for y := range info.Height {
		for x := range info.Width {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 == r2 && g1 == g2 && b1 == b2 {
				continue
			}
			switch top(info, image.Pt(x, y)) {
			case "cube":
				inCube++
			case "":
				outside++
			}
		}
	}
	t.Logf("between the readbacks %d pixels of the cube's window changed, %d outside every window", inCube, outside)
	if inCube == 0 {
		t.Errorf("no pixel of the cube's window (%+v) changed in 300 ms", window(info, "cube"))
	}
	if outside != 0 {
		t.Errorf("%d pixels outside every window changed in 300 ms", outside)
	}

	// Benchmark material: the frames the page draws per second.
	n0, t0 := frames("#screen-box canvas"), time.Now()
	run("wait", chromedp.Sleep(2*time.Second))
	n1, dt := frames("#screen-box canvas"), time.Since(t0)
	t.Logf("the Screen page drew %.1f frames/s (%d in %v); its status line: %s", float64(n1-n0)/dt.Seconds(), n1-n0, dt.Round(time.Millisecond),
		eval("status", `document.querySelector('#screen-stat').textContent`))
	shot("screen")

	// A click on the canvas, in paint's drawing area (below its palette
	// strip) where no window covers it, paints there.
	paint := window(info, "paint")
	pt, ok := uncovered(info, "paint", image.Rect(paint.X, paint.Y+24, paint.X+paint.Width, paint.Y+paint.Height))
	if !ok {
		t.Fatalf("all of paint's drawing area is covered: %+v", info.Windows)
	}
	t.Logf("clicking paint at %v on the screen", pt)
	sx, sy := (pt.X-paint.X)*paint.SurfaceWidth/paint.Width, (pt.Y-paint.Y)*paint.SurfaceHeight/paint.Height
	pixel := func(file string, x, y int) [3]uint32 {
		t.Helper()
		if code, out, errOut := runBinary(t, "", "screenshot", "--window", "paint", file); code != 0 {
			t.Fatalf("orbital screenshot --window paint: exit %d\n%s%s", code, out, errOut)
		}
		r, g, b, _ := readPNG(t, file).At(x, y).RGBA()
		return [3]uint32{r >> 8, g >> 8, b >> 8}
	}
	white := [3]uint32{255, 255, 255}
	if p := pixel(filepath.Join(artifacts, "paint-before.png"), sx, sy); p != white {
		t.Fatalf("paint at (%d,%d) before the click is %v, want white", sx, sy, p)
	}
	var box []float64 // the canvas on the page: left, top, and CSS pixels per canvas pixel
	if box, err = browse(browser, chromedp.Evaluate[[]float64](`((c) => { const b = c.getBoundingClientRect(); return [b.left, b.top, b.width / c.width, b.height / c.height]; })(`+canvas+`)`)); err != nil {
		fail("the canvas's place", err)
	}
	run("click paint", chromedp.MouseClickXY(box[0]+(float64(pt.X)+0.5)*box[2], box[1]+(float64(pt.Y)+0.5)*box[3]))
	checkFor(t, 20*time.Second, "the click to paint", func() bool {
		return pixel(filepath.Join(artifacts, "paint-after.png"), sx, sy) != white
	})
	checkFor(t, 20*time.Second, "paint to have the focus", func() bool { return screen().Focus == "paint" })
	see(`#screen-wins [data-window="paint"][data-focused="true"]`)
	shot("screen-paint")

	// Leaving the page ends the stream: the compositor stops encoding.
	view("apps")
	checkFor(t, 20*time.Second, "the browser display to go", func() bool { return !slices.Contains(screen().Displays, "browser") })

	// Apps: paint's tab shows its window; a click there is in the
	// window's own coordinates.
	openApp := func(name string) {
		t.Helper()
		eval("open "+name, `((s) => { s.value = `+jsString(name)+`; s.dispatchEvent(new Event('change')); return s.value; })(document.querySelector('#app-open'))`)
		see(`button[data-tab="` + name + `"]`)
	}
	openApp("paint")
	const paintCanvas = `.surface[data-surface="paint"][data-stream="live"] canvas`
	see(paintCanvas)
	until("paint's window on its canvas", `((c) => c.width === `+strconv.Itoa(paint.SurfaceWidth)+` && c.dataset.frames > 0)(document.querySelector(`+jsString(paintCanvas)+`))`)
	sx2, sy2 := paint.SurfaceWidth/4, paint.SurfaceHeight*3/4
	if box, err = browse(browser, chromedp.Evaluate[[]float64](`((c) => { const b = c.getBoundingClientRect(); return [b.left, b.top, b.width / c.width, b.height / c.height]; })(document.querySelector(`+jsString(paintCanvas)+`))`)); err != nil {
		fail("paint's canvas", err)
	}
	run("click paint's tab", chromedp.MouseClickXY(box[0]+(float64(sx2)+0.5)*box[2], box[1]+(float64(sy2)+0.5)*box[3]))
	checkFor(t, 20*time.Second, "the click in paint's tab to paint", func() bool {
		return pixel(filepath.Join(artifacts, "paint-tab.png"), sx2, sy2) != white
	})
	shot("screen-apps")
	// A process without a window says so.
	openApp("ticker")
	see(`.surface[data-surface="ticker"][data-stream="none"]`)
	if s := eval("ticker's surface", `document.querySelector('.surface[data-surface="ticker"]').textContent`); s != "no display surface" {
		t.Errorf("a tab without a window says %q", s)
	}

	cancelBrowser()
	_ = node.cmd.Process.Signal(syscall.SIGTERM)
	if code := node.wait(t); code != 0 {
		t.Fatalf("orbital up exited %d after SIGTERM\n%s", code, node.stderr)
	}
	t.Logf("screenshots in %s", artifacts)
}

// window returns the named window of info (the zero value if none).
func window(info api.ScreenInfo, name string) api.WindowInfo {
	for _, w := range info.Windows {
		if w.Name == name {
			return w
		}
	}
	return api.WindowInfo{}
}

func windowRect(w api.WindowInfo) image.Rectangle {
	return image.Rect(w.X, w.Y, w.X+w.Width, w.Y+w.Height)
}

// top returns the name of the frontmost visible window at screen point p,
// or "" for the background.
func top(info api.ScreenInfo, p image.Point) string {
	name, order := "", -1
	for _, w := range info.Windows {
		if w.Visible && w.Order > order && p.In(windowRect(w)) {
			name, order = w.Name, w.Order
		}
	}
	return name
}

// uncovered finds a point of area, on screen, where window name is
// frontmost with a margin (a click a pixel off still hits it): the
// middle if it can, else the first of a grid.
func uncovered(info api.ScreenInfo, name string, area image.Rectangle) (image.Point, bool) {
	area = area.Inset(4).Intersect(image.Rect(0, 0, info.Width, info.Height))
	front := func(p image.Point) bool {
		for _, d := range []image.Point{{0, 0}, {-4, -4}, {4, -4}, {-4, 4}, {4, 4}} {
			if top(info, p.Add(d)) != name {
				return false
			}
		}
		return true
	}
	if mid := image.Pt((area.Min.X+area.Max.X)/2, (area.Min.Y+area.Max.Y)/2); front(mid) {
		return mid, true
	}
	for y := area.Min.Y; y < area.Max.Y; y += 8 {
		for x := area.Min.X; x < area.Max.X; x += 8 {
			if p := image.Pt(x, y); front(p) {
				return p, true
			}
		}
	}
	return image.Point{}, false
}
