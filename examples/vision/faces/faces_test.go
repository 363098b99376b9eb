package faces

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/examples/vision/frame"
)

// sample is pigo's testdata/sample.jpg (MIT, © 2018 Endre Simo): one
// frontal face, 320x400.
func sample(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../testdata/sample.jpg")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// labelled is the face in sample.jpg as marked by hand (ear to ear,
// hairline to chin): what a correct detector must find.
var labelled = Box{X: 45, Y: 80, W: 225, H: 265}

func iou(a, b Box) float64 {
	ix := max(0, min(a.X+a.W, b.X+b.W)-max(a.X, b.X))
	iy := max(0, min(a.Y+a.H, b.Y+b.H)-max(a.Y, b.Y))
	in := float64(ix * iy)
	return in / (float64(a.W*a.H+b.W*b.H) - in)
}

func TestDetectSample(t *testing.T) {
	got, err := Detect(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Detect(sample.jpg) = %+v, want one face", got)
	}
	if d := got[0]; d.Label != "face" || d.Score < 5 || iou(d.Box, labelled) < 0.6 {
		t.Fatalf("Detect(sample.jpg) = %+v, want a face overlapping %+v by IoU ≥ 0.6 (got %.2f)", d, labelled, iou(d.Box, labelled))
	}
}

// scene pastes the sample face, scaled by nearest neighbour to w×h, at
// each of the given points of a mid-grey canvas.
func scene(tb testing.TB, cw, ch, w, h int, at ...image.Point) *image.RGBA {
	src, _, err := image.Decode(bytes.NewReader(sample(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, cw, ch))
	for i := range dst.Pix {
		dst.Pix[i] = 128
	}
	sb := src.Bounds()
	for _, p := range at {
		for y := range h {
			for x := range w {
				dst.Set(p.X+x, p.Y+y, src.At(sb.Min.X+x*sb.Dx()/w, sb.Min.Y+y*sb.Dy()/h))
			}
		}
	}
	return dst
}

func raw(img *image.RGBA) []byte {
	b := []byte("RGBA")
	b = binary.LittleEndian.AppendUint32(b, uint32(img.Rect.Dx()))
	b = binary.LittleEndian.AppendUint32(b, uint32(img.Rect.Dy()))
	return append(b, img.Pix...)
}

// TestDetectScene: two faces at known places and sizes in a bigger frame,
// as raw RGBA and as PNG, give the same two boxes, each where it was put.
func TestDetectScene(t *testing.T) {
	at := []image.Point{{40, 60}, {380, 120}}
	img := scene(t, 640, 400, 160, 200, at...)
	var pngb bytes.Buffer
	if err := png.Encode(&pngb, img); err != nil {
		t.Fatal(err)
	}
	var first []Detection
	for name, in := range map[string][]byte{"raw": raw(img), "png": pngb.Bytes()} {
		got, err := Detect(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 2 {
			t.Fatalf("%s: Detect = %+v, want two faces", name, got)
		}
		for _, p := range at {
			want := Box{X: p.X + labelled.X/2, Y: p.Y + labelled.Y/2, W: labelled.W / 2, H: labelled.H / 2}
			found := false
			for _, d := range got {
				found = found || iou(d.Box, want) >= 0.5
			}
			if !found {
				t.Errorf("%s: no detection of %+v overlaps the face at %+v in %+v", name, want, p, got)
			}
		}
		if first != nil && !equal(first, got) {
			t.Errorf("raw and PNG differ: %+v vs %+v", first, got)
		}
		first = got
	}
}

func equal(a, b []Detection) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[Detection]int{}
	for _, d := range a {
		m[d]++
	}
	for _, d := range b {
		m[d]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestNoFace: images without a face find none.
func TestNoFace(t *testing.T) {
	grad := image.NewRGBA(image.Rect(0, 0, 320, 240))
	noise := image.NewGray(image.Rect(0, 0, 320, 240))
	seed := uint32(1)
	for y := range 240 {
		for x := range 320 {
			grad.Set(x, y, color.RGBA{uint8(x * 255 / 319), uint8(y * 255 / 239), 128, 255})
			seed = seed*1664525 + 1013904223
			noise.Pix[y*noise.Stride+x] = uint8(seed >> 24)
		}
	}
	var np bytes.Buffer
	if err := png.Encode(&np, noise); err != nil {
		t.Fatal(err)
	}
	wall := scene(t, 320, 240, 0, 0) // the grey canvas alone
	for name, in := range map[string][]byte{"gradient": raw(grad), "noise": np.Bytes(), "grey": raw(wall), "tiny": raw(image.NewRGBA(image.Rect(0, 0, 5, 3)))} {
		got, err := Detect(in)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: Detect = %+v, %v; want no face", name, got, err)
		}
		l, err := Classify(in)
		if err != nil || len(l) != 0 {
			t.Errorf("%s: Classify = %+v, %v; want []", name, l, err)
		}
	}
}

func TestClassify(t *testing.T) {
	got, err := Classify(sample(t))
	if err != nil || len(got) != 1 || got[0].Label != "face" || got[0].Score < 5 {
		t.Fatalf("Classify(sample.jpg) = %+v, %v; want [{face, ≥5}]", got, err)
	}
	// A small face in a big frame is not "a face" as a whole image.
	small := scene(t, 640, 480, 80, 100, image.Point{10, 10})
	if got, err := Classify(raw(small)); err != nil || len(got) != 0 {
		t.Fatalf("Classify(small face in a big frame) = %+v, %v; want []", got, err)
	}
}

func TestMalformed(t *testing.T) {
	hdr := func(tag string, w, h uint32, n int) []byte {
		b := []byte(tag)
		b = binary.LittleEndian.AppendUint32(b, w)
		b = binary.LittleEndian.AppendUint32(b, h)
		return append(b, make([]byte, n)...)
	}
	jpg := sample(t)
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not an image"},
		{"garbage", []byte("hello, world"), "not an image"},
		{"short raw", []byte("RGBA\x01\x00"), "shorter than its 12-byte header"},
		{"wrong length", hdr("RGBA", 4, 4, 3), "wants 64 bytes of pixels, got 3"},
		{"gray wrong length", hdr("GRAY", 4, 4, 17), "wants 16 bytes of pixels, got 17"},
		{"zero size", hdr("RGBA", 0, 4, 0), "each side must be 1..4096"},
		{"huge side", hdr("GRAY", 1<<31, 1, 0), "each side must be 1..4096"},
		{"too many pixels", hdr("GRAY", 4096, 4096, 0), "more than"},
		{"truncated jpeg", jpg[:len(jpg)/2], "jpeg"},
		{"png bomb header", pngHeader(60000, 60000), "each side must be 1..4096"},
	} {
		_, err := Detect(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Detect error %v, want it to contain %q", tt.name, err, tt.want)
		}
		if _, err := Classify(tt.in); err == nil {
			t.Errorf("%s: Classify accepted it", tt.name)
		}
	}
}

// pngHeader is a PNG whose header claims w×h pixels and that has no data.
func pngHeader(w, h int) []byte {
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	_ = png.Encode(&b, img)
	p := b.Bytes()
	// IHDR's width and height follow the 8-byte signature, length and type.
	binary.BigEndian.PutUint32(p[16:], uint32(w))
	binary.BigEndian.PutUint32(p[20:], uint32(h))
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func FuzzDetect(f *testing.F) {
	f.Add(raw(scene(f, 64, 48, 32, 40, image.Point{10, 4})))
	f.Add([]byte("GRAY\x20\x00\x00\x00\x20\x00\x00\x00"))
	f.Add(pngHeader(3, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		d, err := Detect(b)
		if err != nil && d != nil {
			t.Fatalf("results with an error: %v", err)
		}
		im, ierr := frame.Decode(b)
		for _, x := range d {
			if ierr != nil || x.Box.X < 0 || x.Box.Y < 0 || x.Box.X+x.Box.W > im.Width || x.Box.Y+x.Box.H > im.Height {
				t.Fatalf("box %+v outside the image", x.Box)
			}
		}
	})
}

func BenchmarkDetectNative(b *testing.B) {
	for _, sz := range []struct{ w, h int }{{320, 240}, {640, 480}} {
		in := raw(scene(b, sz.w, sz.h, sz.h/2*4/5, sz.h/2, image.Point{sz.w / 3, sz.h / 4}))
		b.Run(image.Pt(sz.w, sz.h).String(), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if d, err := Detect(in); err != nil || len(d) != 1 {
					b.Fatal(d, err)
				}
			}
		})
	}
}
