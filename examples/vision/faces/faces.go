// Package faces is the vision library's model: the pretrained pico face
// cascade "facefinder" (github.com/nenadmarkus/pico, rnt/cascades/facefinder,
// MIT, © 2013 Nenad Markus; see model/LICENSE.pico), embedded in the
// package and run by package pico on images decoded by package frame.
//
// The same code runs natively (tests, benchmarks) and inside the vision
// library's wasm, so the two give the same answers.
package faces

import (
	_ "embed"
	"fmt"
	"math"
	"sync"

	"github.com/orbitalfoundation/orbital/examples/vision/frame"
	"github.com/orbitalfoundation/orbital/examples/vision/pico"
)

//go:embed model/facefinder
var facefinder []byte

var cascade = sync.OnceValues(func() (*pico.Cascade, error) { return pico.Parse(facefinder) })

// Model returns the parsed face cascade.
func Model() (*pico.Cascade, error) {
	c, err := cascade()
	if err != nil {
		return nil, fmt.Errorf("the embedded face model: %w", err)
	}
	return c, nil
}

// Box is a rectangle in image pixels: (X, Y) is its top-left corner.
type Box struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Detection is one object of detect's result.
type Detection struct {
	Box   Box     `json:"box"`
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// Label is one entry of classify's result.
type Label struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// Detect decodes an image (see package frame) and returns the faces in it,
// best first: boxes clipped to the image, scores rounded to 0.01.
func Detect(b []byte) ([]Detection, error) {
	im, err := frame.Decode(b)
	if err != nil {
		return nil, err
	}
	return DetectImage(im)
}

// DetectImage is Detect on an already decoded image.
func DetectImage(im pico.Image) ([]Detection, error) {
	c, err := Model()
	if err != nil {
		return nil, err
	}
	p := pico.DefaultParams(im.Width, im.Height)
	if p.MaxSize < p.MinSize { // smaller than the smallest window: no face fits
		return []Detection{}, nil
	}
	dets, err := c.Detect(im, p)
	if err != nil {
		return nil, err
	}
	out := make([]Detection, 0, len(dets))
	for _, d := range dets {
		x0, y0 := max(0, int(math.Round(d.Col-d.Size/2))), max(0, int(math.Round(d.Row-d.Size/2)))
		x1, y1 := min(im.Width, int(math.Round(d.Col+d.Size/2))), min(im.Height, int(math.Round(d.Row+d.Size/2)))
		out = append(out, Detection{
			Box:   Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0},
			Label: "face",
			Score: math.Round(d.Score*100) / 100,
		})
	}
	return out, nil
}

// Classify says what the whole image shows. The model knows one class, so
// the result is [{label: "face", score}] when the image is a face (a face
// fills at least half of its shorter side: a crop, a portrait) and empty
// otherwise.
func Classify(b []byte) ([]Label, error) {
	im, err := frame.Decode(b)
	if err != nil {
		return nil, err
	}
	c, err := Model()
	if err != nil {
		return nil, err
	}
	p := pico.DefaultParams(im.Width, im.Height)
	p.MinSize = max(p.MinSize, min(im.Width, im.Height)/2)
	out := []Label{}
	if p.MaxSize < p.MinSize {
		return out, nil
	}
	dets, err := c.Detect(im, p)
	if err != nil {
		return nil, err
	}
	if len(dets) > 0 {
		out = append(out, Label{Label: "face", Score: math.Round(dets[0].Score*100) / 100})
	}
	return out, nil
}
