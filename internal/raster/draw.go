package raster

import (
	"encoding/binary"
	"math"

	"github.com/orbitalfoundation/orbital/internal/abi"
)

// depth24Max is the far value of a 24-bit depth buffer (stored as an
// integer in a float32, which holds every 24-bit integer exactly).
const depth24Max = 1<<24 - 1

// Fixed-point sub-pixel precision of triangle setup: 8 bits, as GPUs use.
const (
	subBits = 8
	sub     = 1 << subBits
	half    = sub / 2
)

// state is the drawing state of one command list; each list starts from
// the defaults (no depth test, no blending, no scissor, no culling, no
// texture).
type state struct {
	sf             *Surface
	depthFn        int32
	depthWrite     bool
	blend          int32
	cull           int32
	tex            *Surface
	linear, repeat bool
	clipX0, clipY0 int // the clip rectangle: scissor ∩ surface
	clipX1, clipY1 int
	texPix         []byte
	d24            bool
	triangles      int
}

// exec draws the list into sf's back buffer; sf.dmu is held. It returns
// the triangles drawn.
func (l *list) exec(sf *Surface) int {
	st := state{sf: sf, clipX1: sf.w, clipY1: sf.h, d24: sf.flags&abi.RasterDepth24 != 0}
	defer st.unbind()
	for i := range l.cmds {
		c := &l.cmds[i]
		switch c.op {
		case abi.RasterClear:
			st.clear(uint32(c.args[0]), c.f, uint32(c.args[2]))
		case abi.RasterDepth:
			st.depthFn, st.depthWrite = c.args[0], c.args[1] == 1
		case abi.RasterBlend:
			st.blend = c.args[0]
		case abi.RasterCull:
			st.cull = c.args[0]
		case abi.RasterScissor:
			x, y, w, h := int(c.args[0]), int(c.args[1]), int(c.args[2]), int(c.args[3])
			if w == 0 && h == 0 && x == 0 && y == 0 {
				st.clipX0, st.clipY0, st.clipX1, st.clipY1 = 0, 0, sf.w, sf.h
			} else {
				st.clipX0, st.clipY0 = clampInt(x, 0, sf.w), clampInt(y, 0, sf.h)
				st.clipX1, st.clipY1 = clampInt(x+w, st.clipX0, sf.w), clampInt(y+h, st.clipY0, sf.h)
			}
		case abi.RasterTexture:
			st.unbind()
			st.linear, st.repeat = c.args[1] == abi.RasterLinear, c.args[2] == abi.RasterRepeat
			if c.tex != nil {
				c.tex.mu.RLock()
				if c.tex.front == nil { // destroyed meanwhile: no texture
					c.tex.mu.RUnlock()
				} else {
					st.tex, st.texPix = c.tex, c.tex.front
				}
			}
		case abi.RasterTriangles:
			for k := 0; k+2 < len(c.vert); k += 3 {
				st.triangle(&c.vert[k], &c.vert[k+1], &c.vert[k+2])
			}
		case abi.RasterIndexed:
			for k := 0; k+12 <= len(c.idx); k += 12 {
				a := binary.LittleEndian.Uint32(c.idx[k:])
				b := binary.LittleEndian.Uint32(c.idx[k+4:])
				d := binary.LittleEndian.Uint32(c.idx[k+8:])
				st.triangle(&c.vert[a], &c.vert[b], &c.vert[d])
			}
		case abi.RasterBlit:
			st.blit(c)
		}
	}
	return st.triangles
}

func (st *state) unbind() {
	if st.tex != nil {
		st.tex.mu.RUnlock()
		st.tex, st.texPix = nil, nil
	}
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func clamp01(f float32) float32 {
	if f < 0 {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}

// premul converts a straight RGBA8 colour (R in the low byte) to
// premultiplied bytes.
func premul(rgba uint32) [4]byte {
	r, g, b, a := uint32(rgba&0xff), uint32(rgba>>8&0xff), uint32(rgba>>16&0xff), uint32(rgba>>24)
	return [4]byte{byte(mul255(r, a)), byte(mul255(g, a)), byte(mul255(b, a)), byte(a)}
}

// mul255 is a·b/255, rounded.
func mul255(a, b uint32) uint32 {
	t := a*b + 128
	return (t + t>>8) >> 8
}

func (st *state) clear(rgba uint32, depth float32, mask uint32) {
	sf := st.sf
	if mask&abi.RasterClearColor != 0 {
		c := premul(rgba)
		w := st.clipX1 - st.clipX0
		for y := st.clipY0; y < st.clipY1 && w > 0; y++ {
			row := sf.back[(y*sf.w+st.clipX0)*4 : (y*sf.w+st.clipX1)*4]
			copy(row[0:4], c[:])
			for n := 4; n < len(row); n *= 2 { // doubling copies: memset speed
				copy(row[n:], row[:n])
			}
		}
	}
	if mask&abi.RasterClearDepth != 0 && sf.depth != nil {
		d := st.quantize(depth)
		for y := st.clipY0; y < st.clipY1; y++ {
			row := sf.depth[y*sf.w+st.clipX0 : y*sf.w+st.clipX1]
			for i := range row {
				row[i] = d
			}
		}
	}
}

// quantize maps a depth in [0, 1] to the buffer's representation.
func (st *state) quantize(z float32) float32 {
	z = clamp01(z)
	if st.d24 {
		return float32(math.Round(float64(z) * depth24Max))
	}
	return z
}

func depthPass(fn int32, z, d float32) bool {
	switch fn {
	case abi.RasterLess:
		return z < d
	case abi.RasterLEqual:
		return z <= d
	case abi.RasterEqual:
		return z == d
	case abi.RasterGreater:
		return z > d
	case abi.RasterGEqual:
		return z >= d
	case abi.RasterNotEqual:
		return z != d
	case abi.RasterNever:
		return false
	}
	return true
}

// blendPixel writes the premultiplied source (s) onto dst with mode.
func blendPixel(mode int32, dst []byte, s0, s1, s2, s3 uint32) {
	switch mode {
	case abi.RasterBlendNone:
		dst[0], dst[1], dst[2], dst[3] = byte(s0), byte(s1), byte(s2), byte(s3)
	case abi.RasterBlendOver:
		ia := 255 - s3
		dst[0] = byte(s0 + mul255(uint32(dst[0]), ia))
		dst[1] = byte(s1 + mul255(uint32(dst[1]), ia))
		dst[2] = byte(s2 + mul255(uint32(dst[2]), ia))
		dst[3] = byte(s3 + mul255(uint32(dst[3]), ia))
	case abi.RasterBlendAdd:
		dst[0] = byte(min(255, s0+uint32(dst[0])))
		dst[1] = byte(min(255, s1+uint32(dst[1])))
		dst[2] = byte(min(255, s2+uint32(dst[2])))
		dst[3] = byte(min(255, s3+uint32(dst[3])))
	case abi.RasterBlendMultiply:
		da := uint32(dst[3])
		for k, s := range [4]uint32{s0, s1, s2, s3} {
			d := uint32(dst[k])
			if k == 3 {
				dst[3] = byte(min(255, s+d-mul255(s, d)))
				break
			}
			dst[k] = byte(min(255, mul255(s, d)+mul255(s, 255-da)+mul255(d, 255-s3)))
		}
	case abi.RasterBlendScreen:
		dst[0] = byte(s0 + uint32(dst[0]) - mul255(s0, uint32(dst[0])))
		dst[1] = byte(s1 + uint32(dst[1]) - mul255(s1, uint32(dst[1])))
		dst[2] = byte(s2 + uint32(dst[2]) - mul255(s2, uint32(dst[2])))
		dst[3] = byte(s3 + uint32(dst[3]) - mul255(s3, uint32(dst[3])))
	}
}

func floorDiv(a, b int64) int64 { // b > 0
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// edge is one edge function E(p) = A·(px−x0) + B·(py−y0) in 1/sub² units,
// non-negative inside the triangle; bias makes the top-left fill rule
// (pixels exactly on a right or bottom edge belong to the neighbour).
type edge struct {
	a, b, x0, y0, bias int64
}

func newEdge(x0, y0, x1, y1 int64) edge {
	e := edge{a: -(y1 - y0), b: x1 - x0, x0: x0, y0: y0}
	if !(e.a > 0 || (e.a == 0 && e.b > 0)) { // not a left or top edge
		e.bias = -1
	}
	return e
}

// at is E at the centre of pixel (i, j).
func (e *edge) at(i, j int64) int64 {
	return e.a*(i*sub+half-e.x0) + e.b*(j*sub+half-e.y0)
}

// span narrows [lo, hi] to the pixels of row j inside the edge.
func (e *edge) span(j int64, lo, hi *int64) {
	d := e.at(0, j) + e.bias // E(i) + bias = a·sub·i + d ≥ 0
	as := e.a * sub
	switch {
	case as > 0:
		*lo = max(*lo, ceilDiv(-d, as))
	case as < 0:
		*hi = min(*hi, floorDiv(d, -as))
	case d < 0:
		*lo, *hi = 1, 0
	}
}

// triangle rasterizes one triangle into st.sf's back buffer.
func (st *state) triangle(v0, v1, v2 *Vertex) {
	if v0.W <= 0 || v1.W <= 0 || v2.W <= 0 { // behind the eye: the guest clips
		return
	}
	fx := func(f float32) int64 { return int64(math.Round(float64(f) * sub)) }
	x0, y0, x1, y1, x2, y2 := fx(v0.X), fx(v0.Y), fx(v1.X), fx(v1.Y), fx(v2.X), fx(v2.Y)
	area := (x1-x0)*(y2-y0) - (y1-y0)*(x2-x0) // > 0: clockwise on screen (y down)
	if area == 0 {
		return
	}
	if (area > 0 && st.cull == abi.RasterCullBack) || (area < 0 && st.cull == abi.RasterCullFront) {
		return
	}
	if area < 0 { // make it clockwise so that inside is E ≥ 0 on every edge
		v1, v2 = v2, v1
		x1, y1, x2, y2 = x2, y2, x1, y1
		area = -area
	}
	// Rows and columns whose pixel centres can be inside, clipped.
	minX, maxX := min(x0, x1, x2), max(x0, x1, x2)
	minY, maxY := min(y0, y1, y2), max(y0, y1, y2)
	i0 := max(ceilDiv(minX-half, sub), int64(st.clipX0))
	i1 := min(floorDiv(maxX-half, sub), int64(st.clipX1-1))
	j0 := max(ceilDiv(minY-half, sub), int64(st.clipY0))
	j1 := min(floorDiv(maxY-half, sub), int64(st.clipY1-1))
	if i0 > i1 || j0 > j1 {
		return
	}
	st.triangles++
	e0 := newEdge(x1, y1, x2, y2) // weight of v0
	e1 := newEdge(x2, y2, x0, y0) // weight of v1
	e2 := newEdge(x0, y0, x1, y1) // weight of v2

	// Attributes over w, interpolated linearly in screen space; z linearly.
	inv := 1 / float64(area)
	iw := [3]float64{1 / float64(v0.W), 1 / float64(v1.W), 1 / float64(v2.W)}
	vs := [3]*Vertex{v0, v1, v2}
	var q [3][7]float64 // r g b a u v 1/w, each ×1/w
	for k, v := range vs {
		w := iw[k]
		q[k] = [7]float64{float64(clamp01(v.R)) * w, float64(clamp01(v.G)) * w, float64(clamp01(v.B)) * w,
			float64(clamp01(v.A)) * w, float64(v.U) * w, float64(v.V) * w, w}
	}
	affine := v0.W == v1.W && v1.W == v2.W // 2D, or a plane facing the eye: no divide per pixel
	if affine {
		for k := range q {
			for a := range q[k] {
				q[k][a] *= float64(v0.W)
			}
		}
	}
	z := [3]float64{float64(clamp01(v0.Z)), float64(clamp01(v1.Z)), float64(clamp01(v2.Z))}
	// Per-pixel steps along x of the barycentric weights.
	dl := [3]float64{float64(e0.a*sub) * inv, float64(e1.a*sub) * inv, float64(e2.a*sub) * inv}
	var dq [7]float64
	for a := range dq {
		dq[a] = dl[0]*q[0][a] + dl[1]*q[1][a] + dl[2]*q[2][a]
	}
	dz := dl[0]*z[0] + dl[1]*z[1] + dl[2]*z[2]

	sf := st.sf
	flat := st.tex == nil && st.blend == abi.RasterBlendNone && (sf.depth == nil || (st.depthFn == abi.RasterAlways && !st.depthWrite)) &&
		v0.R == v1.R && v1.R == v2.R && v0.G == v1.G && v1.G == v2.G && v0.B == v1.B && v1.B == v2.B && v0.A == v1.A && v1.A == v2.A
	var flatPx [4]byte
	if flat {
		a := clamp01(v0.A)
		flatPx = [4]byte{to8(clamp01(v0.R) * a), to8(clamp01(v0.G) * a), to8(clamp01(v0.B) * a), to8(a)}
	}
	for j := j0; j <= j1; j++ {
		lo, hi := i0, i1
		e0.span(j, &lo, &hi)
		e1.span(j, &lo, &hi)
		e2.span(j, &lo, &hi)
		if lo > hi {
			continue
		}
		row := int(j) * sf.w
		if flat {
			px := sf.back[(row+int(lo))*4 : (row+int(hi)+1)*4]
			copy(px[:4], flatPx[:])
			for n := 4; n < len(px); n *= 2 {
				copy(px[n:], px[:n])
			}
			continue
		}
		l0, l1, l2 := float64(e0.at(lo, j))*inv, float64(e1.at(lo, j))*inv, float64(e2.at(lo, j))*inv
		var a [7]float64
		for k := range a {
			a[k] = l0*q[0][k] + l1*q[1][k] + l2*q[2][k]
		}
		zz := l0*z[0] + l1*z[1] + l2*z[2]
		st.span(row+int(lo), int(hi-lo)+1, &a, &dq, zz, dz, affine)
	}
}

// span shades and writes n pixels of one row from index idx: a holds the
// attributes over w at the first pixel and da their steps.
func (st *state) span(idx, n int, a, da *[7]float64, z, dz float64, affine bool) {
	sf := st.sf
	depthOn := sf.depth != nil && (st.depthFn != abi.RasterAlways || st.depthWrite)
	r, g, b, al, u, v, iw := a[0], a[1], a[2], a[3], a[4], a[5], a[6]
	dr, dg, db, dal, du, dv, diw := da[0], da[1], da[2], da[3], da[4], da[5], da[6]
	back := sf.back
	for k := 0; k < n; k, idx = k+1, idx+1 {
		if k > 0 {
			r, g, b, al, u, v, iw, z = r+dr, g+dg, b+db, al+dal, u+du, v+dv, iw+diw, z+dz
		}
		if depthOn {
			zq := st.quantize(float32(z))
			if !depthPass(st.depthFn, zq, sf.depth[idx]) {
				continue
			}
			if st.depthWrite {
				sf.depth[idx] = zq
			}
		}
		w := 1.0
		if !affine {
			w = 1 / iw
		}
		fa := al * w
		fr, fg, fb := r*w*fa, g*w*fa, b*w*fa // premultiplied, 0..1
		var s0, s1, s2, s3 uint32
		if st.tex != nil {
			t := st.sample(u*w, v*w)
			s0, s1, s2, s3 = uint32(t[0]*fr+0.5), uint32(t[1]*fg+0.5), uint32(t[2]*fb+0.5), uint32(t[3]*fa+0.5)
		} else {
			s0, s1, s2, s3 = uint32(fr*255+0.5), uint32(fg*255+0.5), uint32(fb*255+0.5), uint32(fa*255+0.5)
		}
		s0, s1, s2, s3 = min(s0, 255), min(s1, 255), min(s2, 255), min(s3, 255)
		px := back[idx*4 : idx*4+4 : idx*4+4]
		if st.blend == abi.RasterBlendNone {
			px[0], px[1], px[2], px[3] = byte(s0), byte(s1), byte(s2), byte(s3)
			continue
		}
		blendPixel(st.blend, px, s0, s1, s2, s3)
	}
}

func to8(f float32) byte { return byte(f*255 + 0.5) }

// sample reads the bound texture at (u, v) in [0, 1] (texel centres at
// (i+0.5)/w), with the bound filter and wrap.
func (st *state) sample(u, v float64) [4]float64 {
	t := st.tex
	fx, fy := u*float64(t.w)-0.5, v*float64(t.h)-0.5
	if !st.linear {
		i, j := st.wrap(int(math.Floor(fx+0.5)), t.w), st.wrap(int(math.Floor(fy+0.5)), t.h)
		o := (j*t.w + i) * 4
		p := st.texPix[o : o+4]
		return [4]float64{float64(p[0]), float64(p[1]), float64(p[2]), float64(p[3])}
	}
	ix, iy := math.Floor(fx), math.Floor(fy)
	ax, ay := fx-ix, fy-iy
	i0, j0 := st.wrap(int(ix), t.w), st.wrap(int(iy), t.h)
	i1, j1 := st.wrap(int(ix)+1, t.w), st.wrap(int(iy)+1, t.h)
	var out [4]float64
	for k := 0; k < 4; k++ {
		p00 := float64(st.texPix[(j0*t.w+i0)*4+k])
		p10 := float64(st.texPix[(j0*t.w+i1)*4+k])
		p01 := float64(st.texPix[(j1*t.w+i0)*4+k])
		p11 := float64(st.texPix[(j1*t.w+i1)*4+k])
		out[k] = (p00*(1-ax)+p10*ax)*(1-ay) + (p01*(1-ax)+p11*ax)*ay
	}
	return out
}

func (st *state) wrap(i, n int) int {
	if st.repeat {
		i %= n
		if i < 0 {
			i += n
		}
		return i
	}
	return clampInt(i, 0, n-1)
}

// blit copies a source rectangle onto a destination rectangle (nearest
// scaling), clipped, blended with the current mode.
func (st *state) blit(c *command) {
	src := c.tex
	sx, sy, sw, sh := int(c.args[1]), int(c.args[2]), int(c.args[3]), int(c.args[4])
	dx, dy, dw, dh := int(c.args[5]), int(c.args[6]), int(c.args[7]), int(c.args[8])
	if sw == 0 || sh == 0 || dw == 0 || dh == 0 {
		return
	}
	var pix []byte
	if src == st.sf { // from itself: copy the source first
		pix = append([]byte(nil), st.sf.back...)
	} else {
		src.mu.RLock()
		defer src.mu.RUnlock()
		pix = src.front
		if pix == nil {
			return
		}
	}
	sf := st.sf
	x0, x1 := max(dx, st.clipX0), min(dx+dw, st.clipX1)
	y0, y1 := max(dy, st.clipY0), min(dy+dh, st.clipY1)
	for y := y0; y < y1; y++ {
		ty := sy + (y-dy)*sh/dh
		if ty < 0 || ty >= src.h {
			continue
		}
		for x := x0; x < x1; x++ {
			tx := sx + (x-dx)*sw/dw
			if tx < 0 || tx >= src.w {
				continue
			}
			o := (ty*src.w + tx) * 4
			blendPixel(st.blend, sf.back[(y*sf.w+x)*4:(y*sf.w+x)*4+4], uint32(pix[o]), uint32(pix[o+1]), uint32(pix[o+2]), uint32(pix[o+3]))
		}
	}
}
