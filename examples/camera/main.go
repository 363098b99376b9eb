// Command camera is a caller of the vision and kv libraries. Every 500 ms
// it synthesizes a 64×48 RGBA frame (a gradient that moves and fades in and
// out), calls vision.brightness and vision.histogram on it, keeps the
// latest measurement in kv under "camera.latest" (kv.put) and publishes a
// one-line JSON summary on demo.camera, such as
//
//	{"frame":7,"time":"2026-11-25T11:00:03.5Z","mean":41.3,"min":0,"max":97,"peak":0,"stored":true}
//
// At start it reads "camera.latest" back (kv.get) to continue the frame
// numbering where a previous run of it stopped. A call that fails is
// logged (once, until it works again) and left out of the summary, whose
// "errors" lists the functions that failed: the camera keeps running
// without its libraries. orbital.Recv with a timeout is its timer; it
// returns when the kernel stops it (ErrClosed).
//
// When it is granted a display (its manifest asks for an optional one), it
// also shows each frame in its window: the frame is written into a 64×48
// texture surface, blitted ×4 into a 256×192 window, with the frame number
// and the measured brightness drawn over it in the SDK's bitmap font.
package main

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
	"github.com/orbitalfoundation/orbital/sdk/raster"
)

const (
	subject = "demo.camera"
	period  = 500 * time.Millisecond
	width   = 64
	height  = 48
	key     = "camera.latest" // in kv
)

// brightness is vision.brightness's result.
type brightness struct {
	Mean float64 `json:"mean"`
	Min  int     `json:"min"`
	Max  int     `json:"max"`
}

// latest is what the camera keeps in kv.
type latest struct {
	Frame int `json:"frame"`
	brightness
}

// summary is what it publishes per frame.
type summary struct {
	Frame  int       `json:"frame"`
	Time   time.Time `json:"time"`
	Mean   *float64  `json:"mean,omitempty"`
	Min    *int      `json:"min,omitempty"`
	Max    *int      `json:"max,omitempty"`
	Peak   *int      `json:"peak,omitempty"` // the most frequent luma
	Stored bool      `json:"stored"`         // the measurement is in kv
	Errors []string  `json:"errors,omitempty"`
}

func main() {
	os.Exit(run())
}

func run() int {
	frame := make([]byte, width*height*4)
	calls := newReporter()
	n := resume(calls)
	view := newView()
	for {
		m, ok, err := orbital.Recv(period)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case err != nil: // ErrDenied: not connected to the bus
			orbital.Log(orbital.LevelError, "camera: "+err.Error())
			return 1
		case ok: // a direct send, not the timer
			if m.Blob != 0 {
				m.Blob.Release()
			}
			continue
		}
		n++
		synthesize(frame, n)
		s := measure(frame, n, calls)
		view.show(frame, s)
		line, err := json.Marshal(s)
		if err != nil {
			orbital.Log(orbital.LevelError, "camera: "+err.Error())
			continue
		}
		switch err := orbital.Publish(subject, line); {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case errors.Is(err, orbital.ErrDenied):
			orbital.Log(orbital.LevelError, "camera: may not publish "+subject+": check [bus] publish")
			return 1
		case err != nil:
			orbital.Log(orbital.LevelWarn, "camera: "+err.Error())
		}
	}
}

// resume returns the number of the last frame kv remembers, or 0.
func resume(calls *reporter) int {
	var got struct {
		Value string `json:"value"`
		Found bool   `json:"found"`
	}
	err := orbital.CallJSON("kv", "get", map[string]string{"key": key}, &got)
	calls.report("kv.get", err)
	var l latest
	if err != nil || !got.Found || json.Unmarshal([]byte(got.Value), &l) != nil {
		return 0
	}
	orbital.Logf(orbital.LevelInfo, "camera: resuming after frame %d", l.Frame)
	return l.Frame
}

// measure calls the libraries on frame n and returns its summary.
func measure(frame []byte, n int, calls *reporter) summary {
	s := summary{Frame: n, Time: time.Now().UTC()}
	fail := func(fn string, err error) bool {
		calls.report(fn, err)
		if err != nil {
			s.Errors = append(s.Errors, fn)
		}
		return err != nil
	}

	var b brightness
	raw, err := orbital.Call("vision", "brightness", frame)
	if err == nil {
		err = json.Unmarshal(raw, &b)
	}
	if !fail("vision.brightness", err) {
		s.Mean, s.Min, s.Max = &b.Mean, &b.Min, &b.Max
	}

	var hist []int
	raw, err = orbital.Call("vision", "histogram", frame)
	if err == nil {
		err = json.Unmarshal(raw, &hist)
	}
	if !fail("vision.histogram", err) && len(hist) > 0 {
		peak := 0
		for v, c := range hist {
			if c > hist[peak] {
				peak = v
			}
		}
		s.Peak = &peak
	}

	if s.Mean != nil {
		value, _ := json.Marshal(latest{Frame: n, brightness: b})
		err := orbital.CallJSON("kv", "put", map[string]string{"key": key, "value": string(value)}, nil)
		s.Stored = !fail("kv.put", err)
	}
	return s
}

// synthesize draws frame n: a horizontal gradient in red that moves one
// pixel right per frame, a vertical one in green, all scaled by a level
// that rises and falls over 32 frames (16 s).
func synthesize(frame []byte, n int) {
	level := n * 16 % 512
	if level > 255 {
		level = 511 - level
	}
	for y := range height {
		for x := range width {
			i := 4 * (y*width + x)
			frame[i] = byte((x + n) % width * 255 / (width - 1) * level / 255)
			frame[i+1] = byte(y * 255 / (height - 1) * level / 255)
			frame[i+2] = byte(level / 2)
			frame[i+3] = 255
		}
	}
}

// reporter logs the errors of calls without flooding the log: an error is
// logged when a function starts failing or fails differently, and a
// recovery when it works again.
type reporter struct {
	last map[string]string // function → its current error
}

func newReporter() *reporter { return &reporter{last: map[string]string{}} }

func (r *reporter) report(fn string, err error) {
	prev, failing := r.last[fn]
	switch {
	case err == nil && failing:
		delete(r.last, fn)
		orbital.Log(orbital.LevelInfo, "camera: "+fn+" works again")
	case err != nil && err.Error() != prev:
		r.last[fn] = err.Error()
		orbital.Log(orbital.LevelWarn, "camera: "+fn+": "+err.Error())
	}
}

// view is the camera's window, or nothing without a display grant.
type view struct {
	win, tex *raster.Surface
	l        raster.List
}

func newView() *view {
	win, err := raster.Create(4*width, 4*height, raster.Window)
	if err != nil {
		if !errors.Is(err, orbital.ErrDenied) {
			orbital.Log(orbital.LevelWarn, "camera: no window: "+err.Error())
		}
		return &view{}
	}
	tex, err := raster.Create(width, height, 0)
	if err != nil {
		orbital.Log(orbital.LevelWarn, "camera: no texture: "+err.Error())
		return &view{}
	}
	return &view{win: win, tex: tex}
}

// show draws the frame and its measurement and presents them.
func (v *view) show(frame []byte, s summary) {
	if v.win == nil {
		return
	}
	if err := v.tex.Write(0, 0, width, height, frame, 4*width); err != nil {
		orbital.Log(orbital.LevelWarn, "camera: "+err.Error())
		return
	}
	v.l.Reset()
	v.l.Blit(v.tex.ID(), 0, 0, width, height, 0, 0, 4*width, 4*height)
	v.l.Blend(raster.BlendOver)
	text := "frame " + strconv.Itoa(s.Frame)
	if s.Mean != nil {
		text += "  mean " + strconv.Itoa(int(*s.Mean))
	}
	raster.DrawText(&v.l, 6, 6, 2, 0xffffffff, text)
	if err := v.win.Submit(&v.l); err != nil {
		orbital.Log(orbital.LevelWarn, "camera: "+err.Error())
		return
	}
	_ = v.win.Present()
}
