// Package raster is the Go guest binding of Orbital's raster surfaces
// (docs/ABI.md, "Raster"): host-owned RGBA8 colour buffers, with an
// optional depth buffer, that a process draws into by submitting command
// lists and shows by presenting its window.
//
// A frame is usually one [List] built in the guest and one host call:
//
//	win, err := raster.Create(320, 240, raster.Window|raster.Depth32F)
//	…
//	var l raster.List
//	for {
//		l.Reset()
//		l.Clear(0xff202020, 1, raster.ClearColor|raster.ClearDepth)
//		l.Depth(raster.Less, true)
//		l.Cull(raster.CullBack)
//		l.Triangles(vertices)
//		if err := win.Submit(&l); err != nil { … }
//		if err := win.Present(); err != nil { … }
//	}
//
// The module's orbital.toml asks for a display ([capabilities.display]
// max = "WxH"); without a grant every call fails with orbital.ErrDenied.
// Errors are [*Error] values wrapping the SDK's error codes: test them
// with errors.Is(err, orbital.ErrLimit) and so on.
//
// The package keeps its own copy of the ABI's raster constants (a guest
// does not compile the kernel); its tests compare it with the kernel's.
package raster

import (
	"encoding/binary"
	"math"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

// Surface flags of [Create] (RASTER_WINDOW … RASTER_PRESERVE).
const (
	// Window makes the surface the process's window: double-buffered
	// (drawing goes to the back buffer, Present shows it) and shown by the
	// compositor. A process has at most one.
	Window = 1
	// Depth32F gives the surface a 32-bit float depth buffer.
	Depth32F = 2
	// Depth24 gives the surface a 24-bit integer depth buffer.
	Depth24 = 4
	// Preserve makes Present copy the back buffer instead of swapping, so
	// that it keeps its content from frame to frame (only for a Window).
	Preserve = 8
)

// Sizes of the command-list encoding.
const (
	// CmdHeader is the bytes of a command header: u16 opcode, u16
	// reserved (0), u32 payload bytes (RASTER_CMD_HEADER).
	CmdHeader = 8
	// VertexSize is the bytes of an encoded [Vertex]: ten f32
	// (RASTER_VERTEX).
	VertexSize = 40
)

// Command opcodes (RASTER_CLEAR … RASTER_BLIT). [List] encodes them; they
// are listed for guests that write lists by hand.
const (
	OpClear     = 1 // u32 rgba, f32 depth, u32 mask
	OpDepth     = 2 // u32 func, u32 write
	OpBlend     = 3 // u32 mode
	OpScissor   = 4 // i32 x, y, w, h (all 0: off)
	OpCull      = 5 // u32 mode
	OpTexture   = 6 // u32 surface (0: none), u32 filter, u32 wrap
	OpTriangles = 7 // vertices, three per triangle
	OpIndexed   = 8 // u32 nvert, vertices, u32 indices (three per triangle)
	OpBlit      = 9 // u32 surface, i32 sx, sy, sw, sh, dx, dy, dw, dh
)

// Buffers of [List.Clear]'s mask (RASTER_CLEAR_COLOR, RASTER_CLEAR_DEPTH).
const (
	ClearColor = 1
	ClearDepth = 2
)

// Depth functions of [List.Depth] (RASTER_ALWAYS … RASTER_NOTEQUAL): a
// fragment passes when its depth compares so with the buffer's.
const (
	Always   = 0 // no test (the default)
	Never    = 1
	Less     = 2
	LEqual   = 3
	Equal    = 4
	Greater  = 5
	GEqual   = 6
	NotEqual = 7
)

// Blend modes of [List.Blend] (RASTER_BLEND_NONE … RASTER_BLEND_SCREEN),
// on premultiplied colours.
const (
	BlendNone     = 0 // replace (the default)
	BlendOver     = 1 // source-over
	BlendAdd      = 2 // additive, saturating
	BlendMultiply = 3
	BlendScreen   = 4
)

// Face culling of [List.Cull] (RASTER_CULL_NONE … RASTER_CULL_FRONT).
// Screen coordinates have y down: a triangle whose vertices run clockwise
// on screen is a back face.
const (
	CullNone  = 0 // the default
	CullBack  = 1 // drop clockwise-on-screen triangles
	CullFront = 2 // drop counter-clockwise-on-screen triangles
)

// Texture filters and wraps of [List.Texture] (RASTER_NEAREST,
// RASTER_LINEAR, RASTER_CLAMP, RASTER_REPEAT).
const (
	Nearest = 0
	Linear  = 1
	Clamp   = 0
	Repeat  = 1
)

// Limits (RASTER_MAX_SIDE, RASTER_MAX_COORD).
const (
	MaxSide  = 8192    // the largest surface side in pixels
	MaxCoord = 1 << 20 // the largest |x| or |y| of a vertex, in pixels
)

// Vertex is one vertex of a triangle: X, Y in surface pixels (x right, y
// down, pixel centres at +0.5), Z the depth in [0, 1] after the
// perspective divide, W the clip-space w (1 for 2D; attributes are
// interpolated perspective-correctly with it, and triangles with a W <= 0
// are dropped: clip in the guest), R, G, B, A a straight (not
// premultiplied) colour in [0, 1], and U, V texture coordinates in [0, 1].
type Vertex struct {
	X, Y, Z, W float32
	R, G, B, A float32
	U, V       float32
}

// List builds a command list for [Surface.Submit]. The zero value is an
// empty list; every list starts from the defaults: depth test Always
// without write, BlendNone, no scissor, CullNone, no texture.
type List struct{ b []byte }

// Bytes returns the encoded list (it aliases the List's memory).
func (l *List) Bytes() []byte { return l.b }

// Len returns the encoded list's size in bytes.
func (l *List) Len() int { return len(l.b) }

// Reset empties the list, keeping its memory for the next frame.
func (l *List) Reset() { l.b = l.b[:0] }

func (l *List) header(op uint16, n int) {
	l.b = binary.LittleEndian.AppendUint16(l.b, op)
	l.b = binary.LittleEndian.AppendUint16(l.b, 0)
	l.b = binary.LittleEndian.AppendUint32(l.b, uint32(n))
}

func (l *List) u32(v uint32) { l.b = binary.LittleEndian.AppendUint32(l.b, v) }

func (l *List) f32(v float32) { l.u32(math.Float32bits(v)) }

// Clear fills the colour buffer with rgba (straight alpha, R in the low
// byte: 0xAABBGGRR) and/or the depth buffer with depth, as mask
// (ClearColor|ClearDepth) says, within the scissor rectangle.
func (l *List) Clear(rgba uint32, depth float32, mask uint32) {
	l.header(OpClear, 12)
	l.u32(rgba)
	l.f32(depth)
	l.u32(mask)
}

// Depth sets the depth test (Always … NotEqual) and whether passing
// fragments write their depth.
func (l *List) Depth(fn uint32, write bool) {
	l.header(OpDepth, 8)
	l.u32(fn)
	if write {
		l.u32(1)
	} else {
		l.u32(0)
	}
}

// Blend sets the blend mode (BlendNone … BlendScreen).
func (l *List) Blend(mode uint32) {
	l.header(OpBlend, 4)
	l.u32(mode)
}

// Cull sets face culling (CullNone, CullBack, CullFront).
func (l *List) Cull(mode uint32) {
	l.header(OpCull, 4)
	l.u32(mode)
}

// Scissor limits drawing (and Clear) to a rectangle; all zero turns it
// off.
func (l *List) Scissor(x, y, w, h int32) {
	l.header(OpScissor, 16)
	l.u32(uint32(x))
	l.u32(uint32(y))
	l.u32(uint32(w))
	l.u32(uint32(h))
}

// Texture binds surface id (0: none) for the triangles that follow, with
// a filter (Nearest, Linear) and a wrap (Clamp, Repeat). The texel
// multiplies the interpolated vertex colour.
func (l *List) Texture(id, filter, wrap uint32) {
	l.header(OpTexture, 12)
	l.u32(id)
	l.u32(filter)
	l.u32(wrap)
}

// Triangles draws len(v)/3 triangles; len(v) must be a multiple of 3.
func (l *List) Triangles(v []Vertex) {
	l.header(OpTriangles, len(v)*VertexSize)
	l.vertices(v)
}

// Indexed draws len(idx)/3 triangles whose corners are indices into v.
func (l *List) Indexed(v []Vertex, idx []uint32) {
	l.header(OpIndexed, 4+len(v)*VertexSize+4*len(idx))
	l.u32(uint32(len(v)))
	l.vertices(v)
	for _, i := range idx {
		l.u32(i)
	}
}

// Blit copies the source rectangle (sx, sy, sw, sh) of surface id onto
// the destination rectangle (dx, dy, dw, dh), scaling with nearest
// sampling and blending with the current mode.
func (l *List) Blit(id uint32, sx, sy, sw, sh, dx, dy, dw, dh int32) {
	l.header(OpBlit, 36)
	l.u32(id)
	for _, v := range [8]int32{sx, sy, sw, sh, dx, dy, dw, dh} {
		l.u32(uint32(v))
	}
}

func (l *List) vertices(v []Vertex) {
	for i := range v {
		l.vertex(&v[i])
	}
}

func (l *List) vertex(x *Vertex) {
	for _, f := range [10]float32{x.X, x.Y, x.Z, x.W, x.R, x.G, x.B, x.A, x.U, x.V} {
		l.f32(f)
	}
}

// Error is a failed surface call: the function, the ABI error code (which
// errors.Is compares with orbital.ErrInvalid, orbital.ErrLimit, …) and the
// kernel's message (from surface_error; empty when there is none).
type Error struct {
	Op      string        // the orbital_v1 function: "surface_submit"
	Code    orbital.Errno // the negative result
	Message string        // the kernel's explanation, e.g. "raster: TRIANGLES 2 at byte 48: …"
}

// Error returns "raster: OP: MESSAGE", or the code's text without a
// message.
func (e *Error) Error() string {
	if e.Message == "" {
		return "raster: " + e.Op + ": " + e.Code.Error()
	}
	return "raster: " + e.Op + ": " + e.Message + " (" + e.Code.Error() + ")"
}

// Unwrap returns the error code as an error, equal to the SDK's
// orbital.ErrX value of that code.
func (e *Error) Unwrap() error { return e.Code }

// Codes of the ABI that this package tests for itself.
const (
	codeDenied  = -1
	codeInvalid = -2
	codeTooBig  = -3
)

// fail turns the negative result r of op into an *Error, with the
// kernel's message. ERR_DENIED (no display) leaves no message: there
// are no surfaces to keep one.
func fail(op string, r int32) error {
	e := &Error{Op: op, Code: orbital.Errno(r)}
	if r != codeDenied {
		e.Message = lastError()
	}
	return e
}

// lastError is surface_error's message of the last failed call.
func lastError() string {
	var small [256]byte
	buf := small[:]
	for tries := 0; tries < 3; tries++ {
		n := hostSurfaceError(buf)
		switch {
		case n <= 0:
			return ""
		case int(n) <= len(buf):
			return string(buf[:n])
		case n > 64<<10: // a message is a line, not a document
			return ""
		}
		buf = make([]byte, n) // the message did not fit: ask again
	}
	return ""
}

// Surface is a surface created by [Create].
type Surface struct {
	id   int32
	w, h int
}

// Create makes a surface of w×h pixels with flags (Window, Depth32F or
// Depth24, Preserve). It fails with orbital.ErrDenied without a display
// grant, orbital.ErrLimit when it is larger than the display granted, the
// process has too many surfaces or its memory limit cannot hold the
// buffers (surfaces count against it), and orbital.ErrInvalid for bad
// flags, a size <= 0 or a second window.
func Create(w, h int, flags uint32) (*Surface, error) {
	if w <= 0 || h <= 0 || w > MaxSide || h > MaxSide {
		return nil, &Error{Op: "surface_create", Code: orbital.Errno(codeInvalid), Message: "surface size out of range"}
	}
	r := hostSurfaceCreate(int32(w), int32(h), flags)
	switch {
	case r < 0:
		return nil, fail("surface_create", r)
	case r == 0: // the ABI promises a handle > 0
		return nil, &Error{Op: "surface_create", Code: orbital.Errno(codeInvalid), Message: "the kernel returned handle 0"}
	}
	return &Surface{id: r, w: w, h: h}, nil
}

// ID is the surface's handle, as TEXTURE and BLIT name it.
func (s *Surface) ID() uint32 { return uint32(s.id) }

// Size returns the surface's width and height in pixels.
func (s *Surface) Size() (w, h int) { return s.w, s.h }

// Submit draws the command list l into the surface (a window's back
// buffer). A malformed list draws nothing and fails with
// orbital.ErrInvalid; the Error's Message names the bad command.
func (s *Surface) Submit(l *List) error {
	b := l.Bytes()
	if r := hostSurfaceSubmit(s.id, b); r < 0 {
		return fail("surface_submit", r)
	}
	return nil
}

// Write copies a w×h rectangle of premultiplied RGBA8 pixels, rows stride
// bytes apart in pix, into the surface (a window's back buffer) at (x,
// y). The rectangle must lie inside the surface (orbital.ErrInvalid
// otherwise).
func (s *Surface) Write(x, y, w, h int, pix []byte, stride int) error {
	bad := func(msg string) error {
		return &Error{Op: "surface_write", Code: orbital.Errno(codeInvalid), Message: msg}
	}
	switch {
	case x < 0 || y < 0 || w < 0 || h < 0 || w > MaxSide || h > MaxSide || x > MaxSide || y > MaxSide:
		return bad("rectangle out of range")
	case stride < 4*w || stride > 4*MaxSide*4:
		return bad("stride out of range")
	case h > 0 && len(pix) < (h-1)*stride+4*w:
		return bad("pixels shorter than the rectangle")
	}
	if r := hostSurfaceWrite(s.id, int32(x), int32(y), int32(w), int32(h), pix, int32(stride)); r < 0 {
		return fail("surface_write", r)
	}
	return nil
}

// Present shows the window's back buffer: the buffers swap (the new back
// buffer holds an older frame: clear it), or with Preserve the back
// buffer is copied and keeps its content. Presenting a texture does
// nothing.
func (s *Surface) Present() error {
	if r := hostSurfacePresent(s.id); r < 0 {
		return fail("surface_present", r)
	}
	return nil
}

// PresentBlob shows the held blob (exactly w·h·4 bytes of premultiplied
// RGBA8, e.g. a camera frame) as the window's frame without copying it,
// until the next present. The process keeps its own reference to the
// blob.
func (s *Surface) PresentBlob(blob int64) error {
	if r := hostSurfacePresentBlob(s.id, blob); r < 0 {
		return fail("surface_present_blob", r)
	}
	return nil
}

// Destroy frees the surface and gives its memory back; the Surface must
// not be used afterwards.
func (s *Surface) Destroy() error {
	if r := hostSurfaceDestroy(s.id); r < 0 {
		return fail("surface_destroy", r)
	}
	return nil
}
