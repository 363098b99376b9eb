package devices_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/drivers"
	"github.com/orbitalfoundation/orbital/internal/node/config"
)

// burster is an in-process driver for the benchmarks: burst publishes N
// frames of S bytes as fast as it can, as the testdriver program does
// out of process.
type burster struct{}

func (burster) Run(ctx context.Context, h drivers.Host) error {
	h.Handle("burst", func(ctx context.Context, args []byte) ([]byte, error) {
		n, size := binary.LittleEndian.Uint32(args), binary.LittleEndian.Uint32(args[4:])
		for i := uint32(0); i < n; i++ {
			frame := make([]byte, size) // handed over: a fresh one each time, as a camera does
			binary.LittleEndian.PutUint32(frame, i)
			if err := h.PublishFrame(h.Device()+".frames", []byte("f"), frame); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	<-ctx.Done()
	return nil
}

func init() {
	drivers.Register(drivers.Info{Name: "burster", New: func() drivers.Driver { return burster{} }, Manifest: []byte(`name = "burster"
version = "1.0.0"
kind = "driver"
[exports.burst]
`)})
}

// BenchmarkFrameCrossing: one frame from a driver to a subscriber on the
// bus, in-process (the frame becomes a blob without a copy) and out of
// process (the frame crosses the Unix socket: one write, one read into a
// fresh buffer that becomes the blob), at 320x240 and 640x480 RGBA.
func BenchmarkFrameCrossing(b *testing.B) {
	_, exe := programs(b)
	for _, size := range []struct {
		name string
		w, h int
	}{{"320x240", 320, 240}, {"640x480", 640, 480}} {
		for _, mode := range []string{"in-process", "out-of-process"} {
			b.Run(mode+"/"+size.name, func(b *testing.B) {
				k := kernel(b)
				c := driverCfg("bench", nil)
				c.Rate = 1 << 30
				if mode == "in-process" {
					c.Builtin = "burster"
				} else {
					c.Exec = exe
				}
				start(b, k, c)
				conn, err := k.Connect("sink", orbitalConnOptions())
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				if _, err := conn.Subscribe("bench.frames", ""); err != nil {
					b.Fatal(err)
				}
				var got, want atomic.Int64
				reached := make(chan struct{}, 1)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() {
					for {
						if _, err := conn.Recv(ctx); err != nil {
							return
						}
						if got.Add(1) == want.Load() {
							reached <- struct{}{}
						}
					}
				}()
				frame := size.w * size.h * 4
				args := make([]byte, 8)
				binary.LittleEndian.PutUint32(args[4:], uint32(frame))
				// Wait for the driver to serve.
				binary.LittleEndian.PutUint32(args, 1)
				for {
					if _, err := k.Call(ctx, "bench", "burst", args); err == nil {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				for got.Load() < 1 {
					time.Sleep(time.Millisecond)
				}
				got.Store(0)
				want.Store(int64(b.N))
				b.SetBytes(int64(frame))
				b.ResetTimer()
				binary.LittleEndian.PutUint32(args, uint32(b.N))
				if _, err := k.Call(ctx, "bench", "burst", args); err != nil {
					b.Fatal(err)
				}
				select {
				case <-reached:
				case <-time.After(30 * time.Second):
				}
				b.StopTimer()
				if lost := int64(b.N) - got.Load(); lost > 0 {
					b.Fatalf("%d of %d frames lost", lost, b.N)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(frame)/(1<<20)), "ns/MB")
			})
		}
	}
	_ = fmt.Sprint
	_ = config.Driver{}
}
