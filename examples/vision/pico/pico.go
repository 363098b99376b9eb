// Package pico runs a pretrained pico object-detection cascade over a
// grayscale image. Pico ("Pixel Intensity Comparison-based Object
// detection", N. Markus et al., 2013, github.com/nenadmarkus/pico) is a
// cascade of depth-d decision trees whose every node compares the
// intensities of two pixels at positions given relative to the detection
// window; a window is an object when every tree's running score stays above
// that tree's threshold.
//
// This is our own evaluator of the published binary cascade format (the
// format picornt.c and pigo read):
//
//	offset 0   8 bytes, ignored (a version and a spare field)
//	offset 8   int32 LE  d, the depth of every tree
//	offset 12  int32 LE  n, the number of trees
//	then n trees, each:
//	  (2^d - 1) × 4 int8   node tests: r1, c1, r2, c2 in 1/256 of the window
//	  2^d float32 LE       leaf outputs
//	  float32 LE           the cascade threshold after this tree
//
// The package has no state and allocates only its results, so it runs as it
// is inside a wasm guest.
package pico

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// Limits of what Parse accepts: the published cascades have depth 6 and a
// few hundred trees.
const (
	MaxDepth = 12
	MaxTrees = 1 << 14
)

// Cascade is a parsed, validated cascade. It is immutable and safe for
// concurrent use.
type Cascade struct {
	depth  int
	trees  int
	codes  []int8    // per tree 4·2^d: four zeros, then the node tests, so node i's test is at 4·i
	leaves []float32 // per tree 2^d
	thresh []float32 // per tree
}

// Depth returns the depth of the cascade's trees.
func (c *Cascade) Depth() int { return c.depth }

// Trees returns the number of trees.
func (c *Cascade) Trees() int { return c.trees }

// Parse decodes and checks a cascade. A truncated, oversized or non-finite
// cascade is an error; Parse never panics.
func Parse(b []byte) (*Cascade, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("pico: cascade of %d bytes is shorter than its 16-byte header", len(b))
	}
	d := int32(binary.LittleEndian.Uint32(b[8:]))
	n := int32(binary.LittleEndian.Uint32(b[12:]))
	if d < 1 || d > MaxDepth {
		return nil, fmt.Errorf("pico: tree depth %d out of range 1..%d", d, MaxDepth)
	}
	if n < 1 || n > MaxTrees {
		return nil, fmt.Errorf("pico: %d trees out of range 1..%d", n, MaxTrees)
	}
	nodes, leaves := 1<<d-1, 1<<d
	per := 4*nodes + 4*leaves + 4
	if want := 16 + int(n)*per; len(b) != want {
		return nil, fmt.Errorf("pico: a cascade of %d trees of depth %d is %d bytes, got %d", n, d, want, len(b))
	}
	c := &Cascade{
		depth:  int(d),
		trees:  int(n),
		codes:  make([]int8, int(n)*4*leaves),
		leaves: make([]float32, int(n)*leaves),
		thresh: make([]float32, n),
	}
	p := b[16:]
	for t := 0; t < int(n); t++ {
		tree := p[t*per:]
		codes := c.codes[t*4*leaves+4:]
		for i := 0; i < 4*nodes; i++ {
			codes[i] = int8(tree[i])
		}
		tree = tree[4*nodes:]
		for i := 0; i < leaves; i++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(tree[4*i:]))
			if !finite(v) {
				return nil, fmt.Errorf("pico: tree %d leaf %d is %v", t, i, v)
			}
			c.leaves[t*leaves+i] = v
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(tree[4*leaves:]))
		if !finite(v) {
			return nil, fmt.Errorf("pico: tree %d threshold is %v", t, v)
		}
		c.thresh[t] = v
	}
	return c, nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// Image is an 8-bit grayscale image: pixel (x, y) is Pix[y*Stride+x].
type Image struct {
	Pix           []byte
	Width, Height int
	Stride        int
}

// Check reports whether the image's buffer holds all its pixels.
func (im Image) Check() error {
	switch {
	case im.Width <= 0 || im.Height <= 0:
		return fmt.Errorf("pico: image of %dx%d pixels", im.Width, im.Height)
	case im.Stride < im.Width:
		return fmt.Errorf("pico: stride %d is less than the width %d", im.Stride, im.Width)
	case len(im.Pix) < (im.Height-1)*im.Stride+im.Width:
		return fmt.Errorf("pico: %d bytes for a %dx%d image with stride %d", len(im.Pix), im.Width, im.Height, im.Stride)
	}
	return nil
}

// Classify runs the cascade on the square window of side size centred on
// (row, col). It returns the window's score above the last threshold and
// true when every tree accepted it; a window that does not fit in the
// image is rejected.
func (c *Cascade) Classify(im Image, row, col, size int) (float32, bool) {
	// Fixed point as in picornt.c: positions in 1/256 pixel; a test's
	// offset is code·size/256, at most half the window either way.
	r, cc, s := row*256, col*256, size
	if s <= 0 || r-128*s < 0 || (r+128*s)/256 >= im.Height || cc-128*s < 0 || (cc+128*s)/256 >= im.Width {
		return 0, false
	}
	// The check above keeps every test inside the image, so the positions
	// are never negative and >>8 is the division by 256.
	leaves, pix, stride := 1<<c.depth, im.Pix, im.Stride
	codes, lut := c.codes, c.leaves
	var out float32
	for t, thr := range c.thresh {
		tree := codes[t*4*leaves : (t+1)*4*leaves : (t+1)*4*leaves]
		idx := 1
		for range c.depth {
			q := tree[4*idx : 4*idx+4 : 4*idx+4]
			p1 := pix[(r+int(q[0])*s)>>8*stride+(cc+int(q[1])*s)>>8]
			p2 := pix[(r+int(q[2])*s)>>8*stride+(cc+int(q[3])*s)>>8]
			idx *= 2
			if p1 <= p2 {
				idx++
			}
		}
		out += lut[t*leaves+idx-leaves]
		if out <= thr {
			return 0, false
		}
	}
	return out - c.thresh[c.trees-1], true
}

// Params say where and how finely Detect looks.
type Params struct {
	MinSize, MaxSize int     // window sides, in pixels
	ScaleFactor      float64 // > 1: the next window side is this times the last
	ShiftFactor      float64 // (0, 1]: windows are this fraction of their side apart
	Overlap          float64 // raw detections overlapping more than this merge (pico: 0.3)
	MinScore         float64 // merged detections scoring less are dropped (pico: 5.0)
	MaxDetections    int     // raw detections kept before merging (pico: 2048)
}

// DefaultParams are pico's published defaults, with windows from a tenth of
// the image's shorter side (at least 24 pixels) up to all of it.
func DefaultParams(width, height int) Params {
	short := min(width, height)
	return Params{
		MinSize: max(24, short/10), MaxSize: short,
		ScaleFactor: 1.1, ShiftFactor: 0.1,
		Overlap: 0.3, MinScore: 5, MaxDetections: 2048,
	}
}

func (p Params) check() error {
	switch {
	case p.MinSize < 1 || p.MaxSize < p.MinSize:
		return fmt.Errorf("pico: window sizes %d..%d", p.MinSize, p.MaxSize)
	case !(p.ScaleFactor > 1 && p.ScaleFactor <= 4):
		return fmt.Errorf("pico: scale factor %v out of (1, 4]", p.ScaleFactor)
	case !(p.ShiftFactor > 0 && p.ShiftFactor <= 1):
		return fmt.Errorf("pico: shift factor %v out of (0, 1]", p.ShiftFactor)
	case !(p.Overlap >= 0 && p.Overlap < 1):
		return fmt.Errorf("pico: overlap %v out of [0, 1)", p.Overlap)
	case p.MaxDetections < 1:
		return errors.New("pico: MaxDetections must be positive")
	}
	return nil
}

// Detection is one object found: the centre and side of its square
// window, and its score (the sum of the merged windows' scores).
type Detection struct {
	Row, Col, Size float64
	Score          float64
}

// Detect slides windows of every size over the image, merges overlapping
// hits and returns the objects scoring at least p.MinScore, best first.
func (c *Cascade) Detect(im Image, p Params) ([]Detection, error) {
	if err := im.Check(); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	var raw []Detection
	for s := float64(p.MinSize); s <= float64(p.MaxSize); s *= p.ScaleFactor {
		step := math.Max(p.ShiftFactor*s, 1)
		for r := s/2 + 1; r <= float64(im.Height)-s/2-1; r += step {
			for col := s/2 + 1; col <= float64(im.Width)-s/2-1; col += step {
				q, ok := c.Classify(im, int(r), int(col), int(s))
				if ok && len(raw) < p.MaxDetections {
					raw = append(raw, Detection{Row: r, Col: col, Size: s, Score: float64(q)})
				}
			}
		}
	}
	dets := cluster(raw, p.Overlap)
	out := dets[:0]
	for _, d := range dets {
		if d.Score >= p.MinScore {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out, nil
}

// overlap is the intersection over union of two square windows.
func overlap(a, b Detection) float64 {
	or := math.Max(0, math.Min(a.Row+a.Size/2, b.Row+b.Size/2)-math.Max(a.Row-a.Size/2, b.Row-b.Size/2))
	oc := math.Max(0, math.Min(a.Col+a.Size/2, b.Col+b.Size/2)-math.Max(a.Col-a.Size/2, b.Col-b.Size/2))
	return or * oc / (a.Size*a.Size + b.Size*b.Size - or*oc)
}

// cluster merges the connected components of the "overlaps more than
// threshold" graph, as picornt.c does: a component's window is its members'
// mean, its score their sum.
func cluster(dets []Detection, threshold float64) []Detection {
	comp := make([]int, len(dets)) // 0: unassigned
	var out []Detection
	var stack []int
	for i := range dets {
		if comp[i] != 0 {
			continue
		}
		id := len(out) + 1
		comp[i] = id
		stack = append(stack[:0], i)
		var sum Detection
		n := 0
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			sum.Row += dets[k].Row
			sum.Col += dets[k].Col
			sum.Size += dets[k].Size
			sum.Score += dets[k].Score
			n++
			for j := range dets {
				if comp[j] == 0 && overlap(dets[k], dets[j]) > threshold {
					comp[j] = id
					stack = append(stack, j)
				}
			}
		}
		out = append(out, Detection{Row: sum.Row / float64(n), Col: sum.Col / float64(n), Size: sum.Size / float64(n), Score: sum.Score})
	}
	return out
}
