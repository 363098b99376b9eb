package raster

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// A command list is a sequence of commands, each a header
//
//	u16 opcode, u16 reserved (0), u32 payload bytes (a multiple of 4)
//
// and its payload; every number is little-endian. docs/ABI.md ("Raster")
// lists the commands. Decoding validates the whole list before anything
// is drawn, so a malformed list draws nothing.

// MaxCommands bounds the commands of one list.
const MaxCommands = 1 << 20

// CommandError is a malformed command list: the command's index and byte
// offset, its name, and what is wrong. It wraps api.ErrInvalid.
type CommandError struct {
	Index  int    // 0-based command index
	Offset int    // byte offset of the command's header
	Op     string // "TRIANGLES", or "" when the header itself is bad
	Reason string
}

func (e *CommandError) Error() string {
	op := e.Op
	if op == "" {
		op = "command"
	}
	return fmt.Sprintf("raster: %s %d at byte %d: %s", op, e.Index, e.Offset, e.Reason)
}

// Unwrap returns api.ErrInvalid.
func (e *CommandError) Unwrap() error { return api.ErrInvalid }

var opNames = [...]string{
	abi.RasterClear: "CLEAR", abi.RasterDepth: "DEPTH", abi.RasterBlend: "BLEND",
	abi.RasterScissor: "SCISSOR", abi.RasterCull: "CULL", abi.RasterTexture: "TEXTURE",
	abi.RasterTriangles: "TRIANGLES", abi.RasterIndexed: "INDEXED", abi.RasterBlit: "BLIT",
}

// fixedPayload is the payload size of the commands with fixed arguments.
var fixedPayload = [...]int{abi.RasterClear: 12, abi.RasterDepth: 8, abi.RasterBlend: 4, abi.RasterScissor: 16,
	abi.RasterCull: 4, abi.RasterTexture: 12, abi.RasterTriangles: 0, abi.RasterIndexed: 0, abi.RasterBlit: 36}

// Vertex is one decoded vertex: position in surface pixels (x right, y
// down), depth z in [0, 1] after the perspective divide, w the clip-space
// w used for perspective-correct interpolation (1 for 2D), a straight
// (not premultiplied) RGBA colour in [0, 1], and texture coordinates.
type Vertex struct {
	X, Y, Z, W float32
	R, G, B, A float32
	U, V       float32
}

// command is one decoded command.
type command struct {
	op   uint16
	args [9]int32 // integer arguments, in payload order
	f    float32  // CLEAR's depth
	vert []Vertex // TRIANGLES, INDEXED
	idx  []byte   // INDEXED: the u32 indices, raw
	tex  *Surface // TEXTURE, BLIT source
}

type list struct {
	cmds []command
	n    int
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// decode validates cmds and returns what to draw. Surfaces named by
// TEXTURE and BLIT are looked up in set.
func decode(b []byte, set *Set, target uint32) (*list, error) {
	l := &list{}
	for off, i := 0, 0; off < len(b); i++ {
		bad := func(op, format string, args ...any) error {
			return &CommandError{Index: i, Offset: off, Op: op, Reason: fmt.Sprintf(format, args...)}
		}
		if i >= MaxCommands {
			return nil, bad("", "more than %d commands", MaxCommands)
		}
		if len(b)-off < abi.RasterCmdHeader {
			return nil, bad("", "%d bytes left, a header needs %d", len(b)-off, abi.RasterCmdHeader)
		}
		op := binary.LittleEndian.Uint16(b[off:])
		n := int(le32(b, off+4))
		name := ""
		if int(op) < len(opNames) {
			name = opNames[op]
		}
		switch {
		case name == "":
			return nil, bad("", "unknown opcode %d", op)
		case binary.LittleEndian.Uint16(b[off+2:]) != 0:
			return nil, bad(name, "reserved header field is not 0")
		case n%4 != 0:
			return nil, bad(name, "payload of %d bytes is not a multiple of 4", n)
		case n > len(b)-off-abi.RasterCmdHeader:
			return nil, bad(name, "payload of %d bytes, only %d left", n, len(b)-off-abi.RasterCmdHeader)
		}
		p := b[off+abi.RasterCmdHeader : off+abi.RasterCmdHeader+n]
		c := command{op: op}
		if w := fixedPayload[op]; w > 0 {
			if n != w {
				return nil, bad(name, "payload is %d bytes, want %d", n, w)
			}
			for k := 0; k < n/4; k++ {
				c.args[k] = int32(le32(p, 4*k))
			}
		}
		switch op {
		case abi.RasterClear:
			c.f = math.Float32frombits(le32(p, 4))
			if !finite(c.f) {
				return nil, bad(name, "depth %v is not finite", c.f)
			}
			if uint32(c.args[2])&^uint32(abi.RasterClearColor|abi.RasterClearDepth) != 0 {
				return nil, bad(name, "unknown mask bits %#x", c.args[2])
			}
		case abi.RasterDepth:
			if c.args[0] < abi.RasterAlways || c.args[0] > abi.RasterNotEqual {
				return nil, bad(name, "unknown depth func %d", c.args[0])
			}
			if c.args[1] != 0 && c.args[1] != 1 {
				return nil, bad(name, "write is %d, want 0 or 1", c.args[1])
			}
		case abi.RasterBlend:
			if c.args[0] < abi.RasterBlendNone || c.args[0] > abi.RasterBlendScreen {
				return nil, bad(name, "unknown blend mode %d", c.args[0])
			}
		case abi.RasterScissor:
			if c.args[2] < 0 || c.args[3] < 0 {
				return nil, bad(name, "negative size %dx%d", c.args[2], c.args[3])
			}
		case abi.RasterCull:
			if c.args[0] < abi.RasterCullNone || c.args[0] > abi.RasterCullFront {
				return nil, bad(name, "unknown cull mode %d", c.args[0])
			}
		case abi.RasterTexture:
			if c.args[1] != abi.RasterNearest && c.args[1] != abi.RasterLinear {
				return nil, bad(name, "unknown filter %d", c.args[1])
			}
			if c.args[2] != abi.RasterClamp && c.args[2] != abi.RasterRepeat {
				return nil, bad(name, "unknown wrap %d", c.args[2])
			}
			if c.args[0] != 0 {
				sf, ok := set.Get(uint32(c.args[0]))
				if !ok {
					return nil, bad(name, "no surface %d", uint32(c.args[0]))
				}
				if sf.id == target {
					return nil, bad(name, "surface %d cannot texture itself", target)
				}
				c.tex = sf
			}
		case abi.RasterBlit:
			sf, ok := set.Get(uint32(c.args[0]))
			if !ok {
				return nil, bad(name, "no surface %d", uint32(c.args[0]))
			}
			c.tex = sf
			for k := 3; k <= 8; k++ {
				if c.args[k] < -abi.RasterMaxCoord || c.args[k] > abi.RasterMaxCoord {
					return nil, bad(name, "argument %d = %d is out of range", k, c.args[k])
				}
			}
			if c.args[3] < 0 || c.args[4] < 0 || c.args[7] < 0 || c.args[8] < 0 {
				return nil, bad(name, "negative size")
			}
		case abi.RasterTriangles:
			if n%abi.RasterVertex != 0 {
				return nil, bad(name, "payload of %d bytes is not whole vertices of %d bytes", n, abi.RasterVertex)
			}
			nv := n / abi.RasterVertex
			if nv%3 != 0 {
				return nil, bad(name, "%d vertices is not a multiple of 3", nv)
			}
			v, err := vertices(p, nv)
			if err != "" {
				return nil, bad(name, "%s", err)
			}
			c.vert = v
		case abi.RasterIndexed:
			if n < 4 {
				return nil, bad(name, "payload of %d bytes has no vertex count", n)
			}
			nv := int(le32(p, 0))
			if nv > (n-4)/abi.RasterVertex {
				return nil, bad(name, "%d vertices do not fit in %d bytes", nv, n-4)
			}
			v, err := vertices(p[4:], nv)
			if err != "" {
				return nil, bad(name, "%s", err)
			}
			idx := p[4+nv*abi.RasterVertex:]
			ni := len(idx) / 4
			if ni%3 != 0 {
				return nil, bad(name, "%d indices is not a multiple of 3", ni)
			}
			for k := 0; k < ni; k++ {
				if x := le32(idx, 4*k); int64(x) >= int64(nv) {
					return nil, bad(name, "index %d is %d, out of range for %d vertices", k, x, nv)
				}
			}
			c.vert, c.idx = v, idx
		}
		l.cmds = append(l.cmds, c)
		off += abi.RasterCmdHeader + n
		l.n++
	}
	return l, nil
}

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// vertices decodes nv vertices, refusing non-finite numbers and positions
// out of range.
func vertices(p []byte, nv int) ([]Vertex, string) {
	v := make([]Vertex, nv)
	for k := range v {
		o := k * abi.RasterVertex
		var f [10]float32
		for j := range f {
			f[j] = math.Float32frombits(le32(p, o+4*j))
			if !finite(f[j]) {
				return nil, fmt.Sprintf("vertex %d: field %d is %v", k, j, f[j])
			}
		}
		if math.Abs(float64(f[0])) > abi.RasterMaxCoord || math.Abs(float64(f[1])) > abi.RasterMaxCoord {
			return nil, fmt.Sprintf("vertex %d: position (%g, %g) is outside ±%d pixels", k, f[0], f[1], abi.RasterMaxCoord)
		}
		v[k] = Vertex{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]}
	}
	return v, ""
}

// Encoder builds a command list. The zero value is ready; Bytes returns
// the list. (The Go SDK's sdk/raster has the guest's copy.)
type Encoder struct{ b []byte }

func (e *Encoder) header(op uint16, n int) {
	e.b = binary.LittleEndian.AppendUint16(e.b, op)
	e.b = binary.LittleEndian.AppendUint16(e.b, 0)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(n))
}

func (e *Encoder) u32(vs ...uint32) {
	for _, v := range vs {
		e.b = binary.LittleEndian.AppendUint32(e.b, v)
	}
}

// Bytes returns the encoded list.
func (e *Encoder) Bytes() []byte { return e.b }

// Reset empties the list, keeping its memory.
func (e *Encoder) Reset() { e.b = e.b[:0] }

// Clear fills the colour (straight RGBA, packed R in the low byte) and/or
// depth buffers.
func (e *Encoder) Clear(rgba uint32, depth float32, mask uint32) {
	e.header(abi.RasterClear, 12)
	e.u32(rgba, math.Float32bits(depth), mask)
}

// Depth sets the depth test and write.
func (e *Encoder) Depth(fn uint32, write bool) {
	e.header(abi.RasterDepth, 8)
	w := uint32(0)
	if write {
		w = 1
	}
	e.u32(fn, w)
}

// Blend sets the blend mode.
func (e *Encoder) Blend(mode uint32) { e.header(abi.RasterBlend, 4); e.u32(mode) }

// Cull sets face culling.
func (e *Encoder) Cull(mode uint32) { e.header(abi.RasterCull, 4); e.u32(mode) }

// Scissor limits drawing to a rectangle; all zero turns it off.
func (e *Encoder) Scissor(x, y, w, h int32) {
	e.header(abi.RasterScissor, 16)
	e.u32(uint32(x), uint32(y), uint32(w), uint32(h))
}

// Texture binds surface id (0: none) for textured triangles.
func (e *Encoder) Texture(id, filter, wrap uint32) {
	e.header(abi.RasterTexture, 12)
	e.u32(id, filter, wrap)
}

// Triangles draws len(v)/3 triangles.
func (e *Encoder) Triangles(v []Vertex) {
	e.header(abi.RasterTriangles, len(v)*abi.RasterVertex)
	e.vertices(v)
}

// Indexed draws len(idx)/3 triangles of v.
func (e *Encoder) Indexed(v []Vertex, idx []uint32) {
	e.header(abi.RasterIndexed, 4+len(v)*abi.RasterVertex+4*len(idx))
	e.u32(uint32(len(v)))
	e.vertices(v)
	e.u32(idx...)
}

// Blit copies (scaling, nearest) the source rectangle of surface id onto
// the destination rectangle, blended with the current mode.
func (e *Encoder) Blit(id uint32, sx, sy, sw, sh, dx, dy, dw, dh int32) {
	e.header(abi.RasterBlit, 36)
	e.u32(id, uint32(sx), uint32(sy), uint32(sw), uint32(sh), uint32(dx), uint32(dy), uint32(dw), uint32(dh))
}

func (e *Encoder) vertices(v []Vertex) {
	for _, x := range v {
		for _, f := range [10]float32{x.X, x.Y, x.Z, x.W, x.R, x.G, x.B, x.A, x.U, x.V} {
			e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(f))
		}
	}
}
