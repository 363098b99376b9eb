package raster

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/abi"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.png from the rasterizer")

// goldenTolerance is the largest per-channel difference allowed against a
// reference image (float rounding across platforms).
const goldenTolerance = 1

// scene draws a depth-tested, textured, blended scene that exercises
// every command.
func scene(t testing.TB) *Surface {
	s := NewSet(Limits{}, nil)
	tex, _ := s.Create(8, 8, 0)
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			c := byte(60)
			if (x+y)%2 == 0 {
				c = 230
			}
			copy(tex.back[(y*8+x)*4:], []byte{c, c, byte(255 - c), 255})
		}
	}
	sf, _ := s.Create(160, 120, abi.RasterDepth32F)
	var e Encoder
	e.Clear(0xff302010, 1, abi.RasterClearColor|abi.RasterClearDepth)
	e.Depth(abi.RasterLess, true)
	// A perspective textured floor.
	floor := []Vertex{
		{X: -20, Y: 119, Z: 0.3, W: 1, R: 1, G: 1, B: 1, A: 1, U: 0, V: 0}, {X: 180, Y: 119, Z: 0.3, W: 1, R: 1, G: 1, B: 1, A: 1, U: 4, V: 0},
		{X: 120, Y: 50, Z: 0.9, W: 5, R: 1, G: 1, B: 1, A: 1, U: 4, V: 4}, {X: 40, Y: 50, Z: 0.9, W: 5, R: 1, G: 1, B: 1, A: 1, U: 0, V: 4}}
	e.Texture(tex.ID(), abi.RasterNearest, abi.RasterRepeat)
	e.Indexed(floor, []uint32{0, 1, 2, 0, 2, 3})
	e.Texture(0, 0, 0)
	// Two intersecting gouraud triangles.
	e.Triangles([]Vertex{
		{X: 30, Y: 20, Z: 0.2, W: 1, R: 1, A: 1}, {X: 130, Y: 40, Z: 0.8, W: 1, G: 1, A: 1}, {X: 50, Y: 100, Z: 0.2, W: 1, B: 1, A: 1},
		{X: 120, Y: 15, Z: 0.1, W: 1, R: 1, G: 1, A: 1}, {X: 140, Y: 95, Z: 0.1, W: 1, R: 1, G: 1, A: 1}, {X: 35, Y: 60, Z: 0.9, W: 1, G: 1, B: 1, A: 1}})
	// Translucent overlay, scissored.
	e.Depth(abi.RasterAlways, false)
	e.Blend(abi.RasterBlendOver)
	e.Scissor(10, 10, 60, 40)
	e.Triangles([]Vertex{{X: 0, Y: 0, W: 1, R: 1, G: 1, B: 1, A: 0.4}, {X: 100, Y: 0, W: 1, R: 1, G: 1, B: 1, A: 0.4}, {X: 0, Y: 100, W: 1, R: 1, G: 1, B: 1, A: 0.4}})
	e.Scissor(0, 0, 0, 0)
	e.Blend(abi.RasterBlendAdd)
	e.Blit(tex.ID(), 0, 0, 8, 8, 140, 4, 16, 16)
	if err := s.Submit(sf.ID(), e.Bytes()); err != nil {
		t.Fatal(err)
	}
	return sf
}

// TestGoldenScene compares the scene with testdata/golden/scene.png
// within goldenTolerance per channel.
func TestGoldenScene(t *testing.T) {
	sf := scene(t)
	img := &image.NRGBA{Pix: sf.back, Stride: sf.w * 4, Rect: image.Rect(0, 0, sf.w, sf.h)} // opaque scene: premultiplied = straight
	path := filepath.Join("testdata", "golden", "scene.png")
	if *update {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	defer f.Close()
	ref, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Bounds() != img.Bounds() {
		t.Fatalf("reference is %v, scene %v", ref.Bounds(), img.Bounds())
	}
	bad := 0
	for y := 0; y < sf.h; y++ {
		for x := 0; x < sf.w; x++ {
			r, g, b, a := ref.At(x, y).RGBA()
			want := [4]uint32{r >> 8, g >> 8, b >> 8, a >> 8}
			got := px(sf, x, y)
			for k := range want {
				if math.Abs(float64(got[k])-float64(want[k])) > goldenTolerance {
					if bad < 5 {
						t.Errorf("pixel (%d,%d): got %v, reference %v", x, y, got, want)
					}
					bad++
					break
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d pixels differ from %s by more than %d", bad, path, goldenTolerance)
	}
}
