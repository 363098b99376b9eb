// Command cube draws a spinning, depth-tested, lit 3D cube into its window
// with the kernel's rasterizer (sdk/raster), about 60 frames a second,
// with a frame counter drawn in the bitmap font.
//
// The guest does the 3D maths: it rotates the cube, projects its corners
// with a perspective projection and hands the rasterizer screen positions,
// depth in [0, 1] and the clip-space w (for perspective-correct
// interpolation). Back faces are culled (CULL_BACK) and the depth test
// (LESS, with write) sorts the rest. Each frame is one command list, one
// surface_submit and one surface_present.
//
// orbital.Recv with a 16 ms timeout is its timer (the kernel waits: no
// clock capability needed). Once a second it publishes its frame count on
// demo.cube; it returns when the kernel stops it (ErrClosed).
//
//	orbital run --display 320x240 build/wasm/cube.wasm
package main

import (
	"errors"
	"math"
	"os"
	"strconv"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
	"github.com/orbitalfoundation/orbital/sdk/raster"
)

const (
	subject = "demo.cube"
	period  = 16 * time.Millisecond
	fovY    = 60 * math.Pi / 180
	near    = 0.1
	far     = 100
	dist    = 4 // from the eye to the cube's centre
)

type vec3 struct{ x, y, z float64 }

func (a vec3) sub(b vec3) vec3 { return vec3{a.x - b.x, a.y - b.y, a.z - b.z} }
func (a vec3) dot(b vec3) float64 {
	return a.x*b.x + a.y*b.y + a.z*b.z
}
func (a vec3) cross(b vec3) vec3 {
	return vec3{a.y*b.z - a.z*b.y, a.z*b.x - a.x*b.z, a.x*b.y - a.y*b.x}
}

// corners of the cube, and its faces: four corners each, counter-clockwise
// seen from outside (right-handed: the normal is (b−a)×(c−a)), with a
// colour.
var (
	corners = [8]vec3{
		{-1, -1, -1}, {1, -1, -1}, {1, 1, -1}, {-1, 1, -1},
		{-1, -1, 1}, {1, -1, 1}, {1, 1, 1}, {-1, 1, 1},
	}
	faces = [6]struct {
		c       [4]int
		r, g, b float32
	}{
		{[4]int{4, 5, 6, 7}, 0.95, 0.30, 0.25}, // +z red
		{[4]int{1, 0, 3, 2}, 0.25, 0.75, 0.35}, // −z green
		{[4]int{5, 1, 2, 6}, 0.25, 0.45, 0.95}, // +x blue
		{[4]int{0, 4, 7, 3}, 0.95, 0.85, 0.25}, // −x yellow
		{[4]int{7, 6, 2, 3}, 0.85, 0.35, 0.90}, // +y magenta
		{[4]int{0, 1, 5, 4}, 0.30, 0.85, 0.90}, // −y cyan
	}
	light = normalize(vec3{0.4, 0.7, 1}) // towards the light, in view space
)

func normalize(v vec3) vec3 {
	n := math.Sqrt(v.dot(v))
	return vec3{v.x / n, v.y / n, v.z / n}
}

// scene builds the cube's triangles at angle a (radians) for a w×h
// surface into tris.
func scene(tris []raster.Vertex, a float64, w, h int) []raster.Vertex {
	tris = tris[:0]
	sy, cy := math.Sincos(a)
	sx, cx := math.Sincos(a * 0.7)
	// View space: right-handed, the eye at the origin looking down −z.
	var view [8]vec3
	for i, p := range corners {
		p = vec3{p.x*cy + p.z*sy, p.y, -p.x*sy + p.z*cy} // about y
		p = vec3{p.x, p.y*cx - p.z*sx, p.y*sx + p.z*cx}  // about x
		view[i] = vec3{p.x, p.y, p.z - dist}
	}
	f := 1 / math.Tan(fovY/2)
	aspect := float64(w) / float64(h)
	project := func(p vec3, r, g, b float32) raster.Vertex {
		cw := -p.z // clip-space w: the distance along the view axis (> near here)
		ndcX, ndcY := f/aspect*p.x/cw, f*p.y/cw
		z := far * (cw - near) / (cw * (far - near)) // 0 at near, 1 at far
		return raster.Vertex{
			X: float32((ndcX*0.5 + 0.5) * float64(w)),
			Y: float32((0.5 - ndcY*0.5) * float64(h)), // y down on screen
			Z: float32(z), W: float32(cw),
			R: r, G: g, B: b, A: 1,
		}
	}
	for _, fc := range faces {
		p0, p1, p2, p3 := view[fc.c[0]], view[fc.c[1]], view[fc.c[2]], view[fc.c[3]]
		n := normalize(p1.sub(p0).cross(p2.sub(p0)))
		k := float32(0.3 + 0.7*math.Max(0, n.dot(light)))
		r, g, b := fc.r*k, fc.g*k, fc.b*k
		v := [4]raster.Vertex{project(p0, r, g, b), project(p1, r, g, b), project(p2, r, g, b), project(p3, r, g, b)}
		// A face turned to the eye is counter-clockwise on screen too (the
		// y flip to screen coordinates does not mirror the picture): a
		// front face, which CULL_BACK keeps.
		tris = append(tris, v[0], v[1], v[2], v[0], v[2], v[3])
	}
	return tris
}

func main() {
	os.Exit(run())
}

func run() int {
	win, err := raster.Create(320, 240, raster.Window|raster.Depth32F)
	if errors.Is(err, orbital.ErrLimit) { // a smaller display was granted
		win, err = raster.Create(160, 120, raster.Window|raster.Depth32F)
	}
	if err != nil {
		orbital.Log(orbital.LevelError, "cube: "+err.Error())
		return 1
	}
	w, h := win.Size()
	orbital.Logf(orbital.LevelInfo, "cube: drawing %dx%d", w, h)
	scale := float32(1)
	if w >= 320 {
		scale = 2
	}
	var (
		l     raster.List
		tris  []raster.Vertex
		label []byte
		stat  []byte
	)
	for frame := uint64(0); ; frame++ {
		l.Reset()
		l.Clear(0xff301810, 1, raster.ClearColor|raster.ClearDepth) // dark blue (0xAABBGGRR)
		l.Depth(raster.Less, true)
		l.Cull(raster.CullBack)
		tris = scene(tris, float64(frame)*0.02, w, h)
		l.Triangles(tris)
		l.Depth(raster.Always, false)
		label = strconv.AppendUint(append(label[:0], "frame "...), frame, 10)
		raster.DrawText(&l, 4*scale, 4*scale, scale, 0xffffffff, string(label))
		if err := win.Submit(&l); err != nil {
			return fail(err)
		}
		if err := win.Present(); err != nil {
			return fail(err)
		}
		if frame%60 == 0 {
			stat = strconv.AppendUint(append(stat[:0], `{"frame":`...), frame, 10)
			stat = append(stat, '}')
			if err := orbital.Publish(subject, stat); errors.Is(err, orbital.ErrClosed) {
				return 0
			} else if err != nil && frame == 0 {
				orbital.Log(orbital.LevelWarn, "cube: "+err.Error())
			}
		}
		// Wait for the next frame; a message that arrives meanwhile is
		// dropped (and shortens this frame's wait).
		m, ok, err := orbital.Recv(period)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case err != nil: // ErrDenied: not connected to the bus
			return fail(err)
		case ok && m.Blob != 0:
			m.Blob.Release()
		}
	}
}

func fail(err error) int {
	if errors.Is(err, orbital.ErrClosed) {
		return 0
	}
	orbital.Log(orbital.LevelError, "cube: "+err.Error())
	return 1
}
