package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/internal/control"
)

// TestBinaryScreenCLI: a real `orbital up` with a display-granted guest
// and no display at all (headless): orbital windows lists and moves its
// window, orbital screenshot saves the composited screen and one window
// as PNGs with the guest's pixels where the window is; bad requests are
// clear errors.
func TestBinaryScreenCLI(t *testing.T) {
	home := newHome(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "node.toml", []byte(`[node]
module_path = ["`+filepath.Dir(wasm(t, "rasterwat"))+`"]
[screen]
size = "200x120"
[[process]]
name = "red"
module = "rasterwat"
display = "64x64"
`))
	node := startBinary(t, nil, "up", cfg)
	checkFor(t, time.Minute, "node.json", func() bool {
		_, err := os.Stat(control.InfoPath(home))
		return err == nil
	})
	checkFor(t, 30*time.Second, "the window", func() bool {
		code, out, _ := runBinary(t, "", "windows")
		return code == 0 && strings.Contains(out, "red ") && strings.Contains(out, "64x64")
	})
	if code, out, errOut := runBinary(t, "", "windows", "red", "--x", "100", "--y", "40", "--z", "2"); code != 0 {
		t.Fatalf("windows red --x: %d %s %s", code, out, errOut)
	}
	shot := filepath.Join(dir, "screen.png")
	if code, out, errOut := runBinary(t, "", "screenshot", shot); code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("screenshot: %d %s %s\n%s", code, out, errOut, node.stderr)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 120 {
		t.Fatalf("screen %v", b)
	}
	if r, g, b, _ := img.At(110, 50).RGBA(); r>>8 != 255 || g != 0 || b != 0 {
		t.Fatalf("the moved window's pixel is %d,%d,%d", r>>8, g>>8, b>>8)
	}
	if r, _, _, _ := img.At(10, 10).RGBA(); r>>8 == 255 {
		t.Fatal("the window is still at its old place")
	}
	one := filepath.Join(dir, "red.png")
	if code, _, errOut := runBinary(t, "", "screenshot", "--window", "red", one); code != 0 {
		t.Fatalf("screenshot --window: %d %s", code, errOut)
	}
	if code, _, errOut := runBinary(t, "", "screenshot", "--window", "nope", one); code == 0 || !strings.Contains(errOut, "nope") {
		t.Fatalf("screenshot of a missing window: %d %s", code, errOut)
	}
	if code, _, errOut := runBinary(t, "", "windows", "red", "--opacity", "3"); code == 0 || !strings.Contains(errOut, "opacity") {
		t.Fatalf("opacity 3: %d %s", code, errOut)
	}
	if code, _, _ := runBinary(t, "", "screenshot"); code != exitUsage {
		t.Fatalf("screenshot without a file: %d", code)
	}
}
