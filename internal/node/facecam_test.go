package node

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	_ "github.com/orbitalfoundation/orbital/drivers/camera" // the in-process camera driver
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// TestCameraVisionSlice: the demo's slice with the real parts — the camera
// driver (its synthetic source moving a photo with a face over a pattern),
// the vision library's face detector running in wasm, and facecam
// between them — finds the face in the frames; the driver shows in ps.
func TestCameraVisionSlice(t *testing.T) {
	img, err := filepath.Abs(filepath.Join(testwasm.Root(t), "examples", "vision", "testdata", "sample.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, `
[[driver]]
driver = "camera"
config = { name = "front", source = "synthetic", image = "`+img+`", size = "320x240", fps = 10 }
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type report struct {
		Seq   uint64 `json:"seq"`
		Faces []struct {
			Box   struct{ X, Y, W, H int } `json:"box"`
			Label string                   `json:"label"`
		} `json:"faces"`
		LatencyMS float64 `json:"latency_ms"`
		Width     int     `json:"width"`
	}
	found := make(chan report, 64)
	go func() {
		_ = n.Bus().Subscribe(ctx, "demo.faces", func(m api.BusMessage) error {
			var r report
			if json.Unmarshal([]byte(m.Data), &r) == nil && len(r.Faces) > 0 {
				select {
				case found <- r:
				default:
				}
			}
			return nil
		})
	}()
	var r report
	checkFor(t, "a face found in a camera frame", func() bool {
		select {
		case r = <-found:
			return true
		default:
			return false
		}
	})
	f := r.Faces[0]
	if f.Label != "face" || f.Box.W < 20 || f.Box.X < 0 || f.Box.X+f.Box.W > 320 || r.Width != 320 || r.LatencyMS <= 0 {
		t.Errorf("report %+v", r)
	}
	var cam api.ProcessInfo
	for _, p := range n.procs().Processes() {
		if p.Name == "camera" {
			cam = p
		}
	}
	if cam.Driver == nil || cam.Driver.Mode != "in-process" || cam.Module != "camera@1.0.0" || cam.Driver.Published == 0 {
		t.Errorf("camera in ps: %+v", cam)
	}
	if err := n.procs().Stop("camera"); err == nil || !strings.Contains(err.Error(), "is a driver") {
		t.Errorf("stop a driver: %v", err)
	}
}
