package raster

import (
	"math"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/abi"
)

// FuzzSubmit feeds arbitrary command lists to a surface with a depth
// buffer and a texture: Submit either draws or returns an error, never
// panics, and never writes outside the surface.
func FuzzSubmit(f *testing.F) {
	var e Encoder
	e.Clear(0xff00ff00, 0.5, 3)
	e.Depth(abi.RasterLess, true)
	e.Texture(1, abi.RasterLinear, abi.RasterRepeat)
	e.Triangles([]Vertex{vtx(-5, -5), vtx(40, 3), {X: 3, Y: 40, Z: 0.5, W: 2, A: 1, U: 3, V: -2}})
	e.Indexed([]Vertex{vtx(0, 0), vtx(30, 0), vtx(0, 30)}, []uint32{0, 1, 2, 2, 1, 0})
	e.Blit(1, 0, 0, 4, 4, -2, -2, 50, 50)
	e.Scissor(3, 3, 10, 10)
	e.Blend(abi.RasterBlendMultiply)
	e.Cull(abi.RasterCullBack)
	f.Add(e.Bytes())
	f.Add([]byte{})
	f.Add([]byte{7, 0, 0, 0, 40, 0, 0, 0})
	big := Encoder{}
	big.Triangles([]Vertex{vtx(-1e6, -1e6), vtx(1e6, 0), {X: 0, Y: 1e6, W: math.SmallestNonzeroFloat32, A: 1}})
	f.Add(big.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSet(Limits{}, nil)
		tex, _ := s.Create(4, 4, 0)
		_ = tex
		sf, _ := s.Create(24, 20, abi.RasterDepth24)
		_ = s.Submit(sf.ID(), b)
		if len(sf.back) != 24*20*4 || len(sf.depth) != 24*20 {
			t.Fatal("buffers changed size")
		}
		for _, d := range sf.depth {
			if d < 0 || d > depth24Max || d != float32(int32(d)) {
				t.Fatalf("depth value %v out of the 24-bit range", d)
			}
		}
	})
}
