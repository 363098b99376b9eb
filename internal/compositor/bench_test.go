package compositor

import (
	"image"
	"testing"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
	"github.com/orbitalfoundation/orbital/internal/raster"
)

// BenchmarkComposite4x1080p composites a 1920×1080 screen with four
// windows, whole screen damaged each frame: four 960×540 tiles (each
// pixel written once), four overlapping full-screen windows (the depth
// pre-pass writes each pixel once; lower windows are rejected), and the
// same with the top window at half opacity (a blending pass). Floor:
// BenchmarkCompositeFloorCopy, a copy of one frame.
func BenchmarkComposite4x1080p(b *testing.B) {
	const W, H = 1920, 1080
	for _, c := range []struct {
		name    string
		w, h    int
		tile    bool
		opacity float64
	}{{"tiles", 960, 540, true, 1}, {"stacked", W, H, false, 1}, {"stacked-translucent", W, H, false, 0.5}} {
		b.Run(c.name, func(b *testing.B) {
			comp := New(Options{Width: W, Height: H})
			defer comp.Close()
			for i := range 4 {
				set := raster.NewSet(raster.Limits{}, nil)
				comp.Attach(orbital.Window{Name: string(rune('a' + i)), Surfaces: set})
				sf, _ := set.Create(c.w, c.h, abi.RasterWindow)
				var e raster.Encoder
				e.Clear(0xff000000|uint32(40*i), 1, abi.RasterClearColor)
				_ = set.Submit(sf.ID(), e.Bytes())
				_ = set.Present(sf.ID())
				x, y := 0, 0
				if c.tile {
					x, y = (i%2)*960, (i/2)*540
				}
				op := api.WindowOp{Window: string(rune('a' + i)), X: &x, Y: &y}
				if i == 3 && c.opacity < 1 {
					op.Opacity = &c.opacity
				}
				_ = comp.Apply(op)
			}
			comp.Frame()
			b.SetBytes(W * H * 4)
			for b.Loop() {
				comp.mu.Lock()
				comp.damage = append(comp.damage, image.Rect(0, 0, W, H))
				comp.mu.Unlock()
				comp.Frame()
			}
		})
	}
}

// BenchmarkCompositeFloorCopy: copying one 1920×1080 RGBA frame.
func BenchmarkCompositeFloorCopy(b *testing.B) {
	src, dst := make([]byte, 1920*1080*4), make([]byte, 1920*1080*4)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(dst, src)
	}
}
