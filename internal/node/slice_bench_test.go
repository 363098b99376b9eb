package node

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	_ "github.com/orbitalfoundation/orbital/drivers/camera" // the in-process camera driver
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// BenchmarkCameraVisionSlice: the demo's slice end to end — the camera
// driver capturing at 30 fps (its synthetic source moving a face over a
// pattern), facecam turning each frame's blob into a vision.detect call,
// the model running in the vision library's wasm, the report on
// demo.faces. One op is one report; the metrics are the reports per second
// (the detection rate the slice sustains), the mean capture → result
// latency and the share of frames skipped because detection was busy.
func BenchmarkCameraVisionSlice(b *testing.B) {
	img, err := filepath.Abs(filepath.Join(testwasm.Root(b), "examples", "vision", "testdata", "sample.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []string{"320x240", "640x480"} {
		b.Run(size, func(b *testing.B) {
			n := startNode(b, `
[[driver]]
driver = "camera"
config = { name = "front", source = "synthetic", image = "`+img+`", size = "`+size+`", fps = 30 }
resources = ["`+img+`"]

[[process]]
name = "vision"
module = "vision"

[[process]]
name = "facecam"
module = "facecam"
clock = true
devices = ["camera"]
calls = ["vision.detect"]
`)
			type report struct {
				Seq       uint64  `json:"seq"`
				LatencyMS float64 `json:"latency_ms"`
				Skipped   uint64  `json:"skipped"`
				Faces     []any   `json:"faces"`
			}
			reports := make(chan report, 1024)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				_ = n.Bus().Subscribe(ctx, "demo.faces", func(m api.BusMessage) error {
					var r report
					if json.Unmarshal([]byte(m.Data), &r) == nil {
						select {
						case reports <- r:
						default:
						}
					}
					return nil
				})
			}()
			// Warm up: the first reports include compiling and the first call.
			for range 5 {
				select {
				case <-reports:
				case <-time.After(time.Minute):
					b.Fatal("no report from facecam in a minute")
				}
			}
			var lat float64
			var first, last report
			faces := 0
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				var r report
				select {
				case r = <-reports:
				case <-time.After(time.Minute):
					b.Fatal("facecam stopped reporting")
				}
				if i == 0 {
					first = r
				}
				last = r
				lat += r.LatencyMS
				if len(r.Faces) > 0 {
					faces++
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "detections/s")
			b.ReportMetric(lat/float64(b.N), "ms-latency")
			if frames := last.Seq - first.Seq + 1; frames > 0 && b.N > 1 {
				b.ReportMetric(float64(last.Skipped-first.Skipped)/float64(frames), "skipped/frame")
			}
			b.ReportMetric(float64(faces)/float64(b.N), "with-face/op")
		})
	}
}
