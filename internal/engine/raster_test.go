package engine

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/raster"
)

func rasterList(n int) []byte {
	r := rand.New(rand.NewPCG(7, 8))
	v := make([]raster.Vertex, 0, 3*n)
	for range n {
		x, y := float32(r.Float64()*240), float32(r.Float64()*240)
		v = append(v, raster.Vertex{X: x, Y: y, W: 1, R: 1, A: 1}, raster.Vertex{X: x + 6, Y: y, W: 1, G: 1, A: 1}, raster.Vertex{X: x, Y: y + 6, W: 1, B: 1, A: 1})
	}
	var e raster.Encoder
	e.Clear(0xff000000, 1, 1)
	e.Triangles(v)
	return e.Bytes()
}

// TestGuestSubmit: a wasm guest's frame lands in its surfaces; without a
// display grant every surface call is ERR_DENIED.
func TestGuestSubmit(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{})
	m := compile(t, e, "rasterbench")
	caps := limits(128, 0)
	caps.Display = capability.Size{Width: 256, Height: 256}
	i, err := e.Instantiate(ctx, m, Spec{Name: "rasterbench", Caps: caps})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(ctx)
	cmds := rasterList(10)
	if !i.Memory().Write(65536, cmds) {
		t.Fatal("write")
	}
	res, err := i.Call(ctx, "frame", uint64(len(cmds)))
	if err != nil || int32(res[0]) != 0 {
		t.Fatalf("frame: %v %v (%s)", res, err, i.Surfaces().LastError())
	}
	if w := i.Surfaces().Window(); w == nil || w.Presents() != 1 || i.Surfaces().Stats().Triangles == 0 {
		t.Fatalf("surfaces %+v", i.Surfaces().Stats())
	}
	// A malformed list: ERR_INVALID, and the message names the command.
	if !i.Memory().Write(65536, []byte{99, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatal("write")
	}
	if res, _ := i.Call(ctx, "frame", 8); int32(res[0]) != ErrCodeInvalid {
		t.Fatalf("malformed list: %d", int32(res[0]))
	}
	if msg := i.Surfaces().LastError(); msg != "raster: command 0 at byte 0: unknown opcode 99" {
		t.Fatalf("last error %q", msg)
	}
	// Out-of-bounds length: ERR_INVALID, nothing read.
	if res, _ := i.Call(ctx, "frame", 64<<20-1); int32(res[0]) != ErrCodeInvalid {
		t.Fatalf("past memory: %d", int32(res[0]))
	}

	denied, err := e.Instantiate(ctx, m, Spec{Name: "nodisplay", Caps: limits(128, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close(ctx)
	if res, _ := denied.Call(ctx, "frame", 20); int32(res[0]) != ErrCodeDenied {
		t.Fatalf("no display grant: %d", int32(res[0]))
	}
}

// BenchmarkGuestSubmit: the cost per triangle of a frame submitted by a
// wasm guest in one host call (decode, draw, present), beside the same
// list submitted from Go (the floor: no guest, no host call).
func BenchmarkGuestSubmit(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 100, 1000} {
		cmds := rasterList(n)
		b.Run("guest/"+strconv.Itoa(n), func(b *testing.B) {
			e := newEngine(b, Config{})
			m := compile(b, e, "rasterbench")
			caps := limits(128, 0)
			caps.Display = capability.Size{Width: 256, Height: 256}
			i, err := e.Instantiate(ctx, m, Spec{Name: "rasterbench", Caps: caps})
			if err != nil {
				b.Fatal(err)
			}
			defer i.Close(ctx)
			i.Memory().Write(65536, cmds)
			for b.Loop() {
				if res, err := i.Call(ctx, "frame", uint64(len(cmds))); err != nil || res[0] != 0 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/tri")
		})
		b.Run("go/"+strconv.Itoa(n), func(b *testing.B) {
			s := raster.NewSet(raster.Limits{}, nil)
			sf, _ := s.Create(256, 256, 1)
			for b.Loop() {
				if err := s.Submit(sf.ID(), cmds); err != nil {
					b.Fatal(err)
				}
				_ = s.Present(sf.ID())
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/tri")
		})
	}
}
