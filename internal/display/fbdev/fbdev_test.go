//go:build linux

package fbdev

import (
	"bytes"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/orbitalfoundation/orbital/internal/display"
)

var (
	bgrx   = Geometry{BitsPerPixel: 32, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}}
	rgb565 = Geometry{BitsPerPixel: 16, Red: Bitfield{11, 5}, Green: Bitfield{5, 6}, Blue: Bitfield{0, 5}}
)

func TestEncode(t *testing.T) {
	for _, c := range []struct {
		name    string
		geo     Geometry
		r, g, b byte
		want    []byte
	}{
		{"BGRX8888", bgrx, 0x12, 0x34, 0x56, []byte{0x56, 0x34, 0x12, 0xff}},
		{"RGBX8888", Geometry{BitsPerPixel: 32, Red: Bitfield{0, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{16, 8}}, 0x12, 0x34, 0x56, []byte{0x12, 0x34, 0x56, 0xff}},
		{"XRGB8888", Geometry{BitsPerPixel: 32, Red: Bitfield{8, 8}, Green: Bitfield{16, 8}, Blue: Bitfield{24, 8}}, 0x12, 0x34, 0x56, []byte{0xff, 0x12, 0x34, 0x56}},
		{"BGR888", Geometry{BitsPerPixel: 24, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}}, 0x12, 0x34, 0x56, []byte{0x56, 0x34, 0x12}},
		{"RGB888", Geometry{BitsPerPixel: 24, Red: Bitfield{0, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{16, 8}}, 0x12, 0x34, 0x56, []byte{0x12, 0x34, 0x56}},
		{"RGB565 white", rgb565, 0xff, 0xff, 0xff, []byte{0xff, 0xff}},
		{"RGB565 truncated", rgb565, 0x12, 0x34, 0x56, []byte{0xaa, 0x11}},                                                                              // 2<<11 | 13<<5 | 10
		{"RGB565 low bits dropped", rgb565, 0x07, 0x03, 0x07, []byte{0x00, 0x00}},                                                                       // below one step
		{"BGR565", Geometry{BitsPerPixel: 16, Red: Bitfield{0, 5}, Green: Bitfield{5, 6}, Blue: Bitfield{11, 5}}, 0x12, 0x34, 0x56, []byte{0xa2, 0x51}}, // 10<<11 | 13<<5 | 2
		{"XRGB1555", Geometry{BitsPerPixel: 16, Red: Bitfield{10, 5}, Green: Bitfield{5, 5}, Blue: Bitfield{0, 5}}, 0x12, 0x34, 0x56, []byte{0xca, 0x88}},
		{"XRGB2101010", Geometry{BitsPerPixel: 32, Red: Bitfield{20, 10}, Green: Bitfield{10, 10}, Blue: Bitfield{0, 10}}, 0x12, 0x34, 0x56, []byte{0x59, 0x41, 0x83, 0xc4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := make([]byte, len(c.want))
			c.geo.encoder()(got, c.r, c.g, c.b)
			if !bytes.Equal(got, c.want) {
				t.Errorf("encode(%#x,%#x,%#x) = % x, want % x", c.r, c.g, c.b, got, c.want)
			}
		})
	}
}

// frame makes a w×h premultiplied frame whose pixels depend on seed.
func frame(w, h int, seed byte) display.Frame {
	f := display.Frame{W: w, H: h, Stride: 4*w + 4, Pix: make([]byte, (4*w+4)*h)}
	for y := range h {
		for x := range w {
			a := byte(255)
			if x < 8 {
				a = 128
			}
			copy(f.Pix[y*f.Stride+4*x:], []byte{byte(x*5) ^ seed, byte(y*7) ^ seed, byte(x+y) ^ seed, a})
		}
	}
	return f
}

// check reads the file back and compares every pixel with want(x, y),
// and the padding at the end of each row with zero.
func check(t *testing.T, path string, g Geometry, want func(x, y int) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != g.Stride*g.Height {
		t.Fatalf("file is %d bytes, want %d", len(data), g.Stride*g.Height)
	}
	n, bad := g.BitsPerPixel/8, 0
	for y := range g.Height {
		for x := range g.Width {
			if got, w := data[y*g.Stride+n*x:][:n], want(x, y); !bytes.Equal(got, w) {
				if bad++; bad <= 5 {
					t.Errorf("pixel (%d,%d) = % x, want % x", x, y, got, w)
				}
			}
		}
		if pad := data[y*g.Stride+n*g.Width : (y+1)*g.Stride]; bytes.ContainsFunc(pad, func(r rune) bool { return r != 0 }) {
			t.Errorf("row %d padding written: % x", y, pad)
		}
	}
}

func testFile(t *testing.T, g Geometry, px func(r, gr, b byte) []byte) {
	g.Width, g.Height = 64, 48
	g.Stride = g.Width*g.BitsPerPixel/8 + 12
	path := filepath.Join(t.TempDir(), "fb")
	d, err := OpenFile(path, g)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "fbdev" || d.Geometry() != g {
		t.Errorf("Name %q, Geometry %+v", d.Name(), d.Geometry())
	}
	at := func(f display.Frame) func(x, y int) []byte {
		return func(x, y int) []byte { p := f.At(x, y); return px(p[0], p[1], p[2]) }
	}
	zero := make([]byte, g.BitsPerPixel/8) // a new file is all zeros
	check(t, path, g, func(x, y int) []byte { return zero })

	// A frame larger than the framebuffer is clipped.
	f1 := frame(80, 60, 0)
	if err := d.Show(f1, []image.Rectangle{image.Rect(-5, -5, 100, 100)}); err != nil {
		t.Fatal(err)
	}
	check(t, path, g, at(f1))

	// Only the dirty rectangles change; those outside are ignored.
	f2 := frame(80, 60, 0xa5)
	dirty := []image.Rectangle{image.Rect(10, 5, 30, 20), image.Rect(60, 40, 70, 50), image.Rect(64, 0, 80, 60), image.Rect(-9, -9, -1, -1)}
	if err := d.Show(f2, dirty); err != nil {
		t.Fatal(err)
	}
	check(t, path, g, func(x, y int) []byte {
		if p := image.Pt(x, y); p.In(dirty[0]) || p.In(dirty[1]) {
			return at(f2)(x, y)
		}
		return at(f1)(x, y)
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Show(f1, dirty); err == nil {
		t.Error("Show after Close: no error")
	}
}

func TestFileBGRX(t *testing.T) {
	testFile(t, bgrx, func(r, g, b byte) []byte { return []byte{b, g, r, 0xff} })
}

func TestFileRGB565(t *testing.T) {
	testFile(t, rgb565, func(r, g, b byte) []byte {
		v := uint16(r>>3)<<11 | uint16(g>>2)<<5 | uint16(b>>3)
		return []byte{byte(v), byte(v >> 8)}
	})
}

func TestFileBGR888(t *testing.T) {
	g := Geometry{BitsPerPixel: 24, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}}
	testFile(t, g, func(r, g, b byte) []byte { return []byte{b, g, r} })
}

func TestOpenErrors(t *testing.T) {
	_, err := Open("/dev/null")
	if err == nil || !strings.Contains(err.Error(), "/dev/null is not a framebuffer") || !errors.Is(err, syscall.ENOTTY) {
		t.Errorf("Open(/dev/null) = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "fb9")
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
	regular := filepath.Join(t.TempDir(), "file")
	os.WriteFile(regular, []byte("x"), 0o644)
	if _, err := Open(regular); err == nil || !strings.Contains(err.Error(), "not a framebuffer") {
		t.Errorf("Open(regular file) = %v", err)
	}
	for _, g := range []Geometry{
		{Width: 4, Height: 4, BitsPerPixel: 8, Red: Bitfield{5, 3}, Green: Bitfield{2, 3}, Blue: Bitfield{0, 2}},
		{Width: 4, Height: 4, Stride: 8, BitsPerPixel: 32, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}},
		{Width: 4, Height: 4, BitsPerPixel: 16, Red: Bitfield{12, 5}, Green: Bitfield{5, 6}, Blue: Bitfield{0, 5}},
		{Width: 0, Height: 4, BitsPerPixel: 32, Red: Bitfield{16, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{0, 8}},
	} {
		path := filepath.Join(t.TempDir(), "fb")
		if d, err := OpenFile(path, g); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenFile(%+v) = %v", g, err)
			if d != nil {
				d.Close()
			}
		}
	}
}

// The ioctl structs must match linux/fb.h byte for byte.
func TestStructLayout(t *testing.T) {
	if s := unsafe.Sizeof(varScreenInfo{}); s != 160 {
		t.Errorf("fb_var_screeninfo is %d bytes, want 160", s)
	}
	size, lineLength := uintptr(68), uintptr(44) // unsigned long of 4 bytes
	if unsafe.Sizeof(uintptr(0)) == 8 {
		size, lineLength = 80, 48
	}
	if s := unsafe.Sizeof(fixScreenInfo{}); s != size {
		t.Errorf("fb_fix_screeninfo is %d bytes, want %d", s, size)
	}
	if o := unsafe.Offsetof(fixScreenInfo{}.LineLength); o != lineLength {
		t.Errorf("line_length at offset %d, want %d", o, lineLength)
	}
}

// TestDevFB0 opens the real framebuffer if there is a writable one; it
// shows nothing on it.
func TestDevFB0(t *testing.T) {
	f, err := os.OpenFile("/dev/fb0", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no writable /dev/fb0: %v", err)
	}
	f.Close()
	d, err := Open("/dev/fb0")
	if err != nil {
		t.Skipf("/dev/fb0: %v", err) // e.g. an unsupported depth
	}
	t.Logf("/dev/fb0: %+v", d.Geometry())
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}
