package pico

import (
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
)

func facefinder(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../faces/model/facefinder")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseFacefinder(t *testing.T) {
	c, err := Parse(facefinder(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Depth() != 6 || c.Trees() != 468 {
		t.Fatalf("facefinder: depth %d, %d trees; want 6, 468", c.Depth(), c.Trees())
	}
}

func TestParseErrors(t *testing.T) {
	good := facefinder(t)
	with := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "shorter than its 16-byte header"},
		{"depth 0", with(8, 0), "tree depth 0"},
		{"depth 40", with(8, 40), "tree depth 40"},
		{"negative trees", with(12, 0xffffffff), "-1 trees"},
		{"truncated", good[:len(good)-1], "got 239631"},
		{"trailing", append(append([]byte(nil), good...), 0), "got 239633"},
		{"NaN leaf", with(16+4*63, math.Float32bits(float32(math.NaN()))), "leaf 0 is NaN"},
		{"Inf threshold", with(16+4*63+4*64, math.Float32bits(float32(math.Inf(1)))), "threshold is +Inf"},
	} {
		if _, err := Parse(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// TestWindowsStayInside: windows at and beyond every edge of small images
// are rejected, never read outside the pixels.
func TestWindowsStayInside(t *testing.T) {
	c, err := Parse(facefinder(t))
	if err != nil {
		t.Fatal(err)
	}
	for w := 1; w < 40; w += 3 {
		for h := 1; h < 40; h += 5 {
			im := Image{Pix: make([]byte, w*h), Width: w, Height: h, Stride: w}
			for r := -2; r < h+2; r++ {
				for col := -2; col < w+2; col++ {
					for _, s := range []int{-1, 0, 1, 2, 7, 24, 100} {
						c.Classify(im, r, col, s)
					}
				}
			}
		}
	}
	if _, err := c.Detect(Image{Pix: make([]byte, 3), Width: 2, Height: 2, Stride: 2}, DefaultParams(2, 2)); err == nil {
		t.Error("Detect accepted 3 bytes for a 2x2 image")
	}
	if _, err := c.Detect(Image{Pix: make([]byte, 400), Width: 20, Height: 20, Stride: 20}, Params{MinSize: 4, MaxSize: 8, ScaleFactor: 1, ShiftFactor: 0.1, MaxDetections: 1}); err == nil {
		t.Error("Detect accepted a scale factor of 1 (it would never end)")
	}
}

func FuzzParse(f *testing.F) {
	good := facefinder(f)
	f.Add(good[:16+4*63+4*64+4])
	f.Add([]byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses, evaluates without a panic.
		im := Image{Pix: make([]byte, 64*64), Width: 64, Height: 64, Stride: 64}
		for i := range im.Pix {
			im.Pix[i] = byte(i * 7)
		}
		if _, err := c.Detect(im, DefaultParams(64, 64)); err != nil {
			t.Fatal(err)
		}
	})
}
