// Command vision is a stateless library of image functions. Two run a real
// pretrained model, the pico face cascade embedded in package faces, on an
// image (a PNG, a JPEG, or a raw frame: "RGBA" or "GRAY", u32 LE width and
// height, the pixels):
//
//	detect      image → JSON [{box: {x, y, w, h}, label: "face", score}]
//	classify    image → JSON [{label: "face", score}], or [] when it is no face
//
// Three are plain pixel math on RGBA pixels (4 bytes per pixel, as
// image.RGBA lays them out; alpha is ignored):
//
//	grayscale   bytes → bytes: one Rec. 601 luma byte per pixel
//	histogram   bytes → JSON [int]: 256 counts of luma values
//	brightness  bytes → JSON {mean: float, min: int, max: int}
//
// Malformed images fail with what is wrong ("raw RGBA frame of 4x4 wants 64
// bytes of pixels, got 3"); arguments that are not whole pixels fail with
// "want RGBA pixels, got N bytes". Being stateless, it may run as several
// instances at once ([library] instances = 2): nothing survives from one
// call to the next.
package main

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"

	"github.com/orbitalfoundation/orbital/examples/vision/faces"
	"github.com/orbitalfoundation/orbital/examples/vision/frame"
	orbital "github.com/orbitalfoundation/orbital/sdk"
)

func main() {
	orbital.Export("detect", func(args []byte) ([]byte, error) {
		d, err := faces.Detect(args)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	})
	orbital.Export("classify", func(args []byte) ([]byte, error) {
		l, err := faces.Classify(args)
		if err != nil {
			return nil, err
		}
		return json.Marshal(l)
	})
	orbital.Export("grayscale", grayscale)
	orbital.Export("histogram", func(args []byte) ([]byte, error) {
		h, err := histogram(args)
		if err != nil {
			return nil, err
		}
		return json.Marshal(h)
	})
	orbital.Export("brightness", func(args []byte) ([]byte, error) {
		b, err := measure(args)
		if err != nil {
			return nil, err
		}
		return json.Marshal(b)
	})
	if err := orbital.ServeCalls(); err != nil { // ErrDenied: not run as a library
		orbital.Log(orbital.LevelError, "vision: "+err.Error())
		os.Exit(1)
	}
}

// Brightness is the result of brightness.
type Brightness struct {
	Mean float64 `json:"mean"`
	Min  int     `json:"min"`
	Max  int     `json:"max"`
}

// luma is the Rec. 601 luma of an RGB pixel (frame.Luma).
func luma(r, g, b byte) byte { return frame.Luma(r, g, b) }

// checkPixels refuses arguments that are not a whole number of RGBA pixels
// (or no pixel at all).
func checkPixels(p []byte) error {
	if len(p) == 0 || len(p)%4 != 0 {
		return errors.New("want RGBA pixels, got " + strconv.Itoa(len(p)) + " bytes")
	}
	return nil
}

func grayscale(p []byte) ([]byte, error) {
	if err := checkPixels(p); err != nil {
		return nil, err
	}
	out := make([]byte, len(p)/4)
	for i := range out {
		px := p[4*i : 4*i+3]
		out[i] = luma(px[0], px[1], px[2])
	}
	return out, nil
}

func histogram(p []byte) (*[256]int, error) {
	if err := checkPixels(p); err != nil {
		return nil, err
	}
	var h [256]int
	for i := 0; i+3 < len(p); i += 4 {
		h[luma(p[i], p[i+1], p[i+2])]++
	}
	return &h, nil
}

func measure(p []byte) (Brightness, error) {
	h, err := histogram(p)
	if err != nil {
		return Brightness{}, err
	}
	b := Brightness{Min: -1}
	sum := 0
	for v, n := range h {
		if n == 0 {
			continue
		}
		if b.Min < 0 {
			b.Min = v
		}
		b.Max = v
		sum += v * n
	}
	b.Mean = float64(sum) / float64(len(p)/4)
	return b, nil
}
