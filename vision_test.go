package orbital_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	_ "image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/examples/vision/faces"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// provideVision runs the vision example library in a kernel.
func provideVision(tb testing.TB, k *orbital.Kernel) {
	tb.Helper()
	ctx := context.Background()
	mod, err := k.LoadFile(ctx, testwasm.Path(tb, "vision"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := k.Provide(ctx, mod, orbital.ProvideOptions{}); err != nil {
		tb.Fatal(err)
	}
}

// faceFrame is a raw RGBA frame of w×h with pigo's sample face (scaled to
// half the frame's height) pasted at a third of its width.
func faceFrame(tb testing.TB, w, h int) []byte {
	tb.Helper()
	jpg, err := os.ReadFile(filepath.Join(testwasm.Root(tb), "examples", "vision", "testdata", "sample.jpg"))
	if err != nil {
		tb.Fatal(err)
	}
	src, _, err := image.Decode(bytes.NewReader(jpg))
	if err != nil {
		tb.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range dst.Pix {
		dst.Pix[i] = 128
	}
	fw, fh, sb := h/2*4/5, h/2, src.Bounds()
	for y := range fh {
		for x := range fw {
			dst.Set(w/3+x, h/4+y, src.At(sb.Min.X+x*sb.Dx()/fw, sb.Min.Y+y*sb.Dy()/fh))
		}
	}
	b := binary.LittleEndian.AppendUint32([]byte("RGBA"), uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	return append(b, dst.Pix...)
}

// TestVisionModelInWasm: the face model gives inside wasm, through the
// kernel's typed call path, exactly the answers it gives natively — one
// face on pigo's sample.jpg, one in a camera-sized frame — and malformed
// images fail the call with what is wrong.
func TestVisionModelInWasm(t *testing.T) {
	ctx := context.Background()
	k := newKernel(t)
	provideVision(t, k)
	jpg, err := os.ReadFile(filepath.Join(testwasm.Root(t), "examples", "vision", "testdata", "sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"sample.jpg": jpg, "320x240 frame": faceFrame(t, 320, 240)} {
		got, err := k.Call(ctx, "vision", "detect", in)
		if err != nil {
			t.Fatalf("%s: detect: %v", name, err)
		}
		var dets []faces.Detection
		if err := json.Unmarshal(got, &dets); err != nil {
			t.Fatalf("%s: detect result %s: %v", name, got, err)
		}
		want, err := faces.Detect(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) != 1 || dets[0].Label != "face" {
			t.Fatalf("%s: detect = %s, want one face", name, got)
		}
		if len(dets) != len(want) || dets[0] != want[0] {
			t.Fatalf("%s: wasm says %+v, native %+v", name, dets, want)
		}
	}
	got, err := k.Call(ctx, "vision", "classify", jpg)
	if err != nil || !strings.HasPrefix(string(got), `[{"label":"face","score":`) {
		t.Fatalf("classify(sample.jpg) = %s, %v", got, err)
	}
	if got, err := k.Call(ctx, "vision", "classify", faceFrame(t, 640, 480)[:12+4*640*480]); err != nil || string(got) != "[]" {
		t.Fatalf("classify(a small face in a big frame) = %s, %v; want []", got, err)
	}
	for _, bad := range []struct {
		in   []byte
		want string
	}{
		{[]byte("not an image"), "not an image"},
		{[]byte("RGBA\x04\x00\x00\x00\x04\x00\x00\x00abc"), "wants 64 bytes of pixels, got 3"},
		{jpg[:len(jpg)/3], "jpeg"},
	} {
		_, err := k.Call(ctx, "vision", "detect", bad.in)
		if !errors.Is(err, api.ErrFailed) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("detect(%.12q): %v, want ErrFailed with %q", bad.in, err, bad.want)
		}
	}
	// The library still answers after the refusals.
	if _, err := k.Call(ctx, "vision", "detect", jpg); err != nil {
		t.Fatalf("detect after malformed calls: %v", err)
	}
}

// BenchmarkVisionDetect: one face-detection call on a camera frame, run
// natively (the floor) and inside the vision library's wasm through the
// kernel's call path.
func BenchmarkVisionDetect(b *testing.B) {
	k := newKernel(b)
	provideVision(b, k)
	ctx := context.Background()
	for _, sz := range []struct{ w, h int }{{320, 240}, {640, 480}} {
		in := faceFrame(b, sz.w, sz.h)
		name := image.Pt(sz.w, sz.h).String()
		b.Run("native/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := faces.Detect(in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("wasm/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := k.Call(ctx, "vision", "detect", in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
