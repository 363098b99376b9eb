// Command facecam is the camera → vision → display slice of the demo. For
// each frame the camera driver publishes on camera.NAME.frames (a JSON
// header, the pixels as a blob) it
//
//   - reads the pixels out of the blob and calls vision.detect on them (the
//     face-detection model runs inside the vision library's wasm);
//   - draws the frame in its window, a box around each face found, and a
//     status line: faces, detections per second, capture→result latency;
//   - publishes {seq, faces, latency_ms, rate, width, height} on demo.faces.
//
// Its mailbox holds two messages and drops the oldest: when detection is
// slower than the camera, frames are skipped, never queued. A gap event
// (camera.NAME.gap: the stream restarted) resets its statistics.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
	"github.com/orbitalfoundation/orbital/sdk/raster"
)

// header is the camera's frame header.
type header struct {
	Seq    uint64 `json:"seq"`
	TS     int64  `json:"ts"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
	Stream int    `json:"stream"`
}

// Face is one result of vision.detect.
type Face struct {
	Box struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"box"`
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// report is what facecam publishes per frame.
type report struct {
	Seq       uint64  `json:"seq"`
	Faces     []Face  `json:"faces"`
	LatencyMS float64 `json:"latency_ms"`
	Rate      float64 `json:"rate"` // detections per second, over the last second or so
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	Skipped   uint64  `json:"skipped"` // frames dropped since the start of the stream
}

func main() { os.Exit(run()) }

func run() int {
	if _, err := orbital.Subscribe("camera.*.frames"); err != nil {
		orbital.Log(orbital.LevelError, "facecam: subscribe camera.*.frames: "+err.Error()+" (is it granted devices = [\"camera\"]?)")
		return 1
	}
	if _, err := orbital.Subscribe("camera.*.gap"); err != nil {
		orbital.Log(orbital.LevelError, "facecam: subscribe camera.*.gap: "+err.Error())
		return 1
	}
	var (
		buf     []byte // "RGBA" w h, then the pixels: vision.detect's raw frame
		v       view
		times   []time.Time
		lastSeq uint64
		skipped uint64
		first   = true
		failing string
	)
	for {
		m, ok, err := orbital.Recv(-1)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case err != nil:
			orbital.Log(orbital.LevelError, "facecam: "+err.Error())
			return 1
		case !ok:
			continue
		}
		if strings.HasSuffix(m.Subject, ".gap") {
			first, times, skipped = true, times[:0], 0
			continue
		}
		var h header
		if err := json.Unmarshal(m.Data, &h); err != nil || m.Blob == 0 || h.Format != "rgba" || h.Width <= 0 || h.Height <= 0 {
			if m.Blob != 0 {
				_ = m.Blob.Release()
			}
			continue
		}
		if !first && h.Seq > lastSeq+1 {
			skipped += h.Seq - lastSeq - 1
		}
		first, lastSeq = false, h.Seq
		n := 12 + h.Width*h.Height*4
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		copy(buf, "RGBA")
		binary.LittleEndian.PutUint32(buf[4:], uint32(h.Width))
		binary.LittleEndian.PutUint32(buf[8:], uint32(h.Height))
		_, err = m.Blob.ReadAt(buf[12:], 0)
		_ = m.Blob.Release()
		if err != nil {
			orbital.Log(orbital.LevelWarn, "facecam: reading the frame: "+err.Error())
			continue
		}
		var faces []Face
		raw, err := orbital.Call("vision", "detect", buf)
		if err == nil {
			err = json.Unmarshal(raw, &faces)
		}
		if err != nil {
			if err.Error() != failing {
				failing = err.Error()
				orbital.Log(orbital.LevelWarn, "facecam: vision.detect: "+failing)
			}
			continue
		}
		failing = ""
		now := time.Now()
		times = append(times, now)
		for len(times) > 2 && now.Sub(times[0]) > time.Second {
			times = times[1:]
		}
		rate := 0.0
		if len(times) > 1 {
			rate = float64(len(times)-1) / now.Sub(times[0]).Seconds()
		}
		r := report{Seq: h.Seq, Faces: faces, LatencyMS: float64(now.UnixNano()-h.TS) / 1e6, Rate: rate,
			Width: h.Width, Height: h.Height, Skipped: skipped}
		if r.Faces == nil {
			r.Faces = []Face{}
		}
		v.show(buf[12:], h.Width, h.Height, r)
		out, _ := json.Marshal(r)
		if err := orbital.Publish("demo.faces", out); errors.Is(err, orbital.ErrClosed) {
			return 0
		}
	}
}

// view is facecam's window; without a display grant it draws nothing.
type view struct {
	tried    bool
	win, tex *raster.Surface
	w, h     int
	l        raster.List
}

func (v *view) open(w, h int) bool {
	if v.win != nil && v.w == w && v.h == h {
		return true
	}
	if v.tried && v.win == nil {
		return false
	}
	v.tried = true
	if v.win != nil {
		_ = v.win.Destroy()
		_ = v.tex.Destroy()
		v.win, v.tex = nil, nil
	}
	win, err := raster.Create(w, h, raster.Window)
	if err != nil {
		if !errors.Is(err, orbital.ErrDenied) {
			orbital.Log(orbital.LevelWarn, "facecam: no window: "+err.Error())
		}
		return false
	}
	tex, err := raster.Create(w, h, 0)
	if err != nil {
		orbital.Log(orbital.LevelWarn, "facecam: no texture: "+err.Error())
		_ = win.Destroy()
		return false
	}
	v.win, v.tex, v.w, v.h = win, tex, w, h
	return true
}

// show draws the frame, the boxes and the status line.
func (v *view) show(px []byte, w, h int, r report) {
	if !v.open(w, h) {
		return
	}
	if err := v.tex.Write(0, 0, w, h, px, 4*w); err != nil {
		orbital.Log(orbital.LevelWarn, "facecam: "+err.Error())
		return
	}
	v.l.Reset()
	v.l.Blit(v.tex.ID(), 0, 0, int32(w), int32(h), 0, 0, int32(w), int32(h))
	for _, f := range r.Faces {
		box(&v.l, float32(f.Box.X), float32(f.Box.Y), float32(f.Box.W), float32(f.Box.H), 2)
	}
	v.l.Blend(raster.BlendOver)
	rect(&v.l, 0, float32(h-14), float32(w), 14, [4]float32{0, 0, 0, 0.6})
	status := fmt.Sprintf("faces %d  %.1f/s  %.0f ms", len(r.Faces), r.Rate, r.LatencyMS)
	raster.DrawText(&v.l, 4, float32(h-11), 1, 0xffffffff, status)
	if err := v.win.Submit(&v.l); err != nil {
		orbital.Log(orbital.LevelWarn, "facecam: "+err.Error())
		return
	}
	_ = v.win.Present()
}

// box outlines x, y, w, h with lines t pixels thick, in green.
func box(l *raster.List, x, y, w, h, t float32) {
	c := [4]float32{0.2, 1, 0.3, 1}
	rect(l, x, y, w, t, c)
	rect(l, x, y+h-t, w, t, c)
	rect(l, x, y, t, h, c)
	rect(l, x+w-t, y, t, h, c)
}

// rect fills a rectangle with colour c.
func rect(l *raster.List, x, y, w, h float32, c [4]float32) {
	v := func(x, y float32) raster.Vertex {
		return raster.Vertex{X: x, Y: y, W: 1, R: c[0], G: c[1], B: c[2], A: c[3]}
	}
	l.Triangles([]raster.Vertex{v(x, y), v(x+w, y), v(x+w, y+h), v(x, y), v(x+w, y+h), v(x, y+h)})
}
