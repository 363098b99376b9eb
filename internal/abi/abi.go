// Package abi is the single source of the constants of Orbital's guest ABI,
// the orbital_v1 import module (docs/ABI.md): error codes, envelope kinds,
// log levels, receive timeouts, the sizes of the fixed headers the kernel
// writes into guest memory, the statuses of call_serve, the limits a guest
// sees, and the functions with their wasm signatures.
//
// The engine uses these constants directly. The guest bindings cannot (a
// guest module compiles the SDK, not the kernel's internal packages, and C
// has its own header), so they keep copies: the Go SDK (package orbital in
// sdk/) and the C header sdk/c/orbital.h. Tests compare every copy, and
// docs/ABI.md, with this package in both directions; change a constant
// here and in each copy together.
//
// The package imports only the standard library, and nothing of the
// project.
package abi

// ModuleName is the import module of the guest ABI, version 1.
const ModuleName = "orbital_v1"

// Error codes: the negative results of the orbital_v1 functions. Results
// >= 0 are success.
const (
	ErrDenied      = -1
	ErrInvalid     = -2
	ErrTooBig      = -3
	ErrNotFound    = -4
	ErrTimeout     = -5
	ErrLimit       = -6
	ErrClosed      = -7
	ErrBuffer      = -8
	ErrCycle       = -9
	ErrFailed      = -10
	ErrCrashed     = -11
	ErrVersion     = -12
	ErrUnavailable = -13
)

// Envelope kinds: the kind field of an envelope written by recv.
const (
	KindPublish = 0 // published on a subject the process subscribes to
	KindSend    = 1 // sent directly to the process
	KindRequest = 2 // a request: the envelope has a reply subject
)

// Log levels of the log function.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)

// Timeouts of recv (timeout_ms): negative waits forever, 0 polls, a
// positive value waits that many milliseconds.
const (
	Forever = -1
	Poll    = 0
)

// Sizes of the fixed parts of what the kernel writes into guest memory.
const (
	// EnvelopeHeader is the fixed part of an envelope written by recv:
	//
	//	0 u32 kind  4 u32 subject_len  8 u32 reply_len  12 u32 from_len
	//	16 u32 data_len  20 u64 blob (0 = none)  28 subject, reply, from, data
	EnvelopeHeader = 28
	// CallHeader is the fixed part of a call written by call_serve:
	//
	//	0 u32 fn_len  4 u32 args_len  8 fn bytes, then args bytes
	CallHeader = 8
)

// Statuses passed to call_serve with the result of the call being served.
const (
	ServeNone   = -1 // no result: the first turn, or a retry after ERR_BUFFER
	ServeOK     = 0  // the bytes are the result
	ServeFailed = 1  // the bytes are an error message: the caller gets ERR_FAILED
)

// Limits a guest sees.
const (
	// MaxBindings is how many call_bind handles one instance may hold;
	// one more bind fails with ERR_LIMIT.
	MaxBindings = 4096
	// MaxLogLine is the longest log line in bytes; longer ones are
	// truncated.
	MaxLogLine = 16 << 10
)

// Raster: surface flags, command opcodes and the command arguments of
// surface_create and surface_submit (docs/ABI.md, "Raster").
const (
	RasterWindow    = 1  // surface_create flag: the surface is the process's window (double-buffered, shown by the compositor)
	RasterDepth32F  = 2  // surface_create flag: a 32-bit float depth buffer
	RasterDepth24   = 4  // surface_create flag: a 24-bit integer depth buffer
	RasterPreserve  = 8  // surface_create flag: present copies the back buffer instead of swapping (it keeps its content)
	RasterCmdHeader = 8  // bytes of a command header: u16 opcode, u16 reserved, u32 payload bytes
	RasterVertex    = 40 // bytes of a vertex: f32 x y z w r g b a u v

	RasterClear     = 1 // CLEAR u32 rgba, f32 depth, u32 mask
	RasterDepth     = 2 // DEPTH u32 func, u32 write
	RasterBlend     = 3 // BLEND u32 mode
	RasterScissor   = 4 // SCISSOR i32 x y w h (0 0 0 0: off)
	RasterCull      = 5 // CULL u32 mode
	RasterTexture   = 6 // TEXTURE u32 surface, u32 filter, u32 wrap
	RasterTriangles = 7 // TRIANGLES vertices, 3 per triangle
	RasterIndexed   = 8 // INDEXED u32 nvert, vertices, u32 indices (3 per triangle)
	RasterBlit      = 9 // BLIT u32 surface, i32 sx sy sw sh dx dy dw dh

	RasterClearColor = 1 // CLEAR mask: the colour buffer
	RasterClearDepth = 2 // CLEAR mask: the depth buffer

	RasterAlways   = 0 // depth func: always passes (the default: no test)
	RasterNever    = 1
	RasterLess     = 2
	RasterLEqual   = 3
	RasterEqual    = 4
	RasterGreater  = 5
	RasterGEqual   = 6
	RasterNotEqual = 7

	RasterBlendNone     = 0 // blend: replace (the default)
	RasterBlendOver     = 1 // premultiplied source-over
	RasterBlendAdd      = 2 // additive, saturating
	RasterBlendMultiply = 3
	RasterBlendScreen   = 4

	RasterCullNone  = 0 // cull: none (the default)
	RasterCullBack  = 1 // drop clockwise-on-screen triangles
	RasterCullFront = 2 // drop counter-clockwise-on-screen triangles

	RasterNearest = 0 // texture filter
	RasterLinear  = 1
	RasterClamp   = 0 // texture wrap
	RasterRepeat  = 1

	RasterMaxSide  = 8192    // the largest surface side in pixels
	RasterMaxCoord = 1 << 20 // |x| and |y| of a vertex, in pixels
)

// Group is a family of ABI constants.
type Group string

// The groups of Constants.
const (
	GroupError   Group = "error"
	GroupKind    Group = "kind"
	GroupLevel   Group = "level"
	GroupTimeout Group = "timeout"
	GroupSize    Group = "size"
	GroupServe   Group = "serve"
	GroupLimit   Group = "limit"
	GroupRaster  Group = "raster"
)

// Const describes one ABI constant.
type Const struct {
	Group Group
	// Name is the constant's name in the ABI: docs/ABI.md spells the error
	// codes so ("ERR_DENIED") and the C header defines ORB_ + Name.
	Name  string
	Value int64
	// Text is, for error codes, the short description that the bindings
	// give the code (the Go SDK's Errno.Error after "orbital: ", the C
	// header's orb_strerror) and, for kinds, the kind's name in the Go
	// SDK's Kind.String; empty otherwise.
	Text string
	// Meaning says in one line what the constant means.
	Meaning string
}

// Constants returns every ABI constant, grouped, each group in the order
// of its values: error codes from -1 down, the others ascending.
func Constants() []Const {
	return []Const{
		{GroupError, "ERR_DENIED", ErrDenied, "permission denied", "not permitted by the process's capabilities, a reserved $sys. subject, or no bus connection"},
		{GroupError, "ERR_INVALID", ErrInvalid, "invalid argument", "malformed subject, pattern or name, an argument out of range, or out-of-bounds memory"},
		{GroupError, "ERR_TOO_BIG", ErrTooBig, "message too big", "message larger than the node's or the module's maximum"},
		{GroupError, "ERR_NOT_FOUND", ErrNotFound, "not found", "no such process, subscription, blob, library or function; or no responders to a request"},
		{GroupError, "ERR_TIMEOUT", ErrTimeout, "timeout", "the request's or the call's timeout passed"},
		{GroupError, "ERR_LIMIT", ErrLimit, "limit reached", "a quota (blob memory, subscriptions, mailbox, bindings) is exhausted"},
		{GroupError, "ERR_CLOSED", ErrClosed, "closed", "the process is being stopped: return from _start now"},
		{GroupError, "ERR_BUFFER", ErrBuffer, "buffer too small", "the buffer is too small; a received message or a served call is kept"},
		{GroupError, "ERR_CYCLE", ErrCycle, "call cycle", "a call would re-enter a library already on the call chain"},
		{GroupError, "ERR_FAILED", ErrFailed, "call failed", "the called function returned an error; call_error has its message"},
		{GroupError, "ERR_CRASHED", ErrCrashed, "callee crashed", "the callee trapped, ran out of memory or was killed while serving the call"},
		{GroupError, "ERR_VERSION", ErrVersion, "no matching version", "no available version of the library satisfies the caller's range"},
		{GroupError, "ERR_UNAVAILABLE", ErrUnavailable, "unavailable", "the library runs on other nodes and none could be reached within the deadline"},

		{GroupKind, "KIND_PUBLISH", KindPublish, "publish", "published on a subject the process subscribes to"},
		{GroupKind, "KIND_SEND", KindSend, "send", "sent directly to the process"},
		{GroupKind, "KIND_REQUEST", KindRequest, "request", "a request: the envelope has a reply subject"},

		{GroupLevel, "DEBUG", LevelDebug, "", "log level debug"},
		{GroupLevel, "INFO", LevelInfo, "", "log level info"},
		{GroupLevel, "WARN", LevelWarn, "", "log level warn"},
		{GroupLevel, "ERROR", LevelError, "", "log level error"},

		{GroupTimeout, "FOREVER", Forever, "", "recv waits until a message arrives"},
		{GroupTimeout, "POLL", Poll, "", "recv returns at once"},

		{GroupSize, "CALL_HEADER", CallHeader, "", "bytes before the function name in a call written by call_serve"},
		{GroupSize, "ENVELOPE_HEADER", EnvelopeHeader, "", "bytes before the subject in an envelope written by recv"},

		{GroupServe, "SERVE_NONE", ServeNone, "", "call_serve: no result (the first turn, or a retry after ERR_BUFFER)"},
		{GroupServe, "SERVE_OK", ServeOK, "", "call_serve: the bytes are the result"},
		{GroupServe, "SERVE_FAILED", ServeFailed, "", "call_serve: the bytes are an error message; the caller gets ERR_FAILED"},

		{GroupLimit, "MAX_BINDINGS", MaxBindings, "", "call_bind handles one instance may hold"},
		{GroupLimit, "MAX_LOG_LINE", MaxLogLine, "", "longest log line in bytes; longer ones are truncated"},

		{GroupRaster, "RASTER_WINDOW", RasterWindow, "", "surface_create: the process's window, double-buffered, shown by the compositor"},
		{GroupRaster, "RASTER_DEPTH32F", RasterDepth32F, "", "surface_create: a 32-bit float depth buffer"},
		{GroupRaster, "RASTER_DEPTH24", RasterDepth24, "", "surface_create: a 24-bit depth buffer"},
		{GroupRaster, "RASTER_PRESERVE", RasterPreserve, "", "surface_create: present copies the back buffer instead of swapping"},
		{GroupRaster, "RASTER_CMD_HEADER", RasterCmdHeader, "", "bytes of a command header: u16 opcode, u16 reserved, u32 payload bytes"},
		{GroupRaster, "RASTER_VERTEX", RasterVertex, "", "bytes of a vertex: f32 x, y, z, w, r, g, b, a, u, v"},
		{GroupRaster, "RASTER_CLEAR", RasterClear, "", "command CLEAR: u32 rgba, f32 depth, u32 mask"},
		{GroupRaster, "RASTER_DEPTH", RasterDepth, "", "command DEPTH: u32 func, u32 write"},
		{GroupRaster, "RASTER_BLEND", RasterBlend, "", "command BLEND: u32 mode"},
		{GroupRaster, "RASTER_SCISSOR", RasterScissor, "", "command SCISSOR: i32 x, y, w, h (all 0: off)"},
		{GroupRaster, "RASTER_CULL", RasterCull, "", "command CULL: u32 mode"},
		{GroupRaster, "RASTER_TEXTURE", RasterTexture, "", "command TEXTURE: u32 surface (0: none), u32 filter, u32 wrap"},
		{GroupRaster, "RASTER_TRIANGLES", RasterTriangles, "", "command TRIANGLES: vertices, three per triangle"},
		{GroupRaster, "RASTER_INDEXED", RasterIndexed, "", "command INDEXED: u32 nvert, vertices, u32 indices"},
		{GroupRaster, "RASTER_BLIT", RasterBlit, "", "command BLIT: u32 surface, i32 sx, sy, sw, sh, dx, dy, dw, dh"},
		{GroupRaster, "RASTER_CLEAR_COLOR", RasterClearColor, "", "CLEAR mask: the colour buffer"},
		{GroupRaster, "RASTER_CLEAR_DEPTH", RasterClearDepth, "", "CLEAR mask: the depth buffer"},
		{GroupRaster, "RASTER_ALWAYS", RasterAlways, "", "depth func: always pass (default)"},
		{GroupRaster, "RASTER_NEVER", RasterNever, "", "depth func: never pass"},
		{GroupRaster, "RASTER_LESS", RasterLess, "", "depth func: pass when nearer"},
		{GroupRaster, "RASTER_LEQUAL", RasterLEqual, "", "depth func: pass when nearer or equal"},
		{GroupRaster, "RASTER_EQUAL", RasterEqual, "", "depth func: pass when equal"},
		{GroupRaster, "RASTER_GREATER", RasterGreater, "", "depth func: pass when farther"},
		{GroupRaster, "RASTER_GEQUAL", RasterGEqual, "", "depth func: pass when farther or equal"},
		{GroupRaster, "RASTER_NOTEQUAL", RasterNotEqual, "", "depth func: pass when not equal"},
		{GroupRaster, "RASTER_BLEND_NONE", RasterBlendNone, "", "blend: replace (default)"},
		{GroupRaster, "RASTER_BLEND_OVER", RasterBlendOver, "", "blend: premultiplied source-over"},
		{GroupRaster, "RASTER_BLEND_ADD", RasterBlendAdd, "", "blend: additive, saturating"},
		{GroupRaster, "RASTER_BLEND_MULTIPLY", RasterBlendMultiply, "", "blend: multiply"},
		{GroupRaster, "RASTER_BLEND_SCREEN", RasterBlendScreen, "", "blend: screen"},
		{GroupRaster, "RASTER_CULL_NONE", RasterCullNone, "", "cull: none (default)"},
		{GroupRaster, "RASTER_CULL_BACK", RasterCullBack, "", "cull: drop triangles clockwise on screen"},
		{GroupRaster, "RASTER_CULL_FRONT", RasterCullFront, "", "cull: drop triangles counter-clockwise on screen"},
		{GroupRaster, "RASTER_NEAREST", RasterNearest, "", "texture filter: nearest texel"},
		{GroupRaster, "RASTER_LINEAR", RasterLinear, "", "texture filter: bilinear"},
		{GroupRaster, "RASTER_CLAMP", RasterClamp, "", "texture wrap: clamp to the edge"},
		{GroupRaster, "RASTER_REPEAT", RasterRepeat, "", "texture wrap: repeat"},
		{GroupRaster, "RASTER_MAX_SIDE", RasterMaxSide, "", "the largest surface side in pixels"},
		{GroupRaster, "RASTER_MAX_COORD", RasterMaxCoord, "", "the largest |x| or |y| of a vertex in pixels"},
	}
}

// Lookup returns the constant of group g with the value v (not
// meaningful for GroupRaster, whose families share values).
func Lookup(g Group, v int64) (Const, bool) {
	for _, c := range Constants() {
		if c.Group == g && c.Value == v {
			return c, true
		}
	}
	return Const{}, false
}

// Wasm value types of function signatures.
const (
	I32 = "i32"
	I64 = "i64"
)

// Func is one function of the orbital_v1 import module with its wasm
// signature. Pointers and lengths into guest memory are i32.
type Func struct {
	Name    string
	Params  []string // I32 or I64, in order
	Results []string // none or one
}

// Functions returns every function of orbital_v1, in the order of
// docs/ABI.md. Functions are only ever added, never changed.
func Functions() []Func {
	i, l := I32, I64
	return []Func{
		{"nop", nil, nil},
		{"log", []string{i, i, i}, nil},
		{"config", []string{i, i}, []string{i}},

		{"publish", []string{i, i, i, i}, []string{i}},
		{"subscribe", []string{i, i, i, i}, []string{i}},
		{"unsubscribe", []string{i}, []string{i}},
		{"send", []string{i, i, i, i}, []string{i}},
		{"request", []string{i, i, i, i, i, i, i}, []string{i}},
		{"reply", []string{i, i, i, i}, []string{i}},
		{"recv", []string{i, i, i}, []string{i}},
		{"recv_size", nil, []string{i}},
		{"blob_create", []string{i, i}, []string{l}},
		{"blob_publish", []string{i, i, l}, []string{i}},
		{"blob_len", []string{l}, []string{l}},
		{"blob_read", []string{l, l, i, i}, []string{i}},
		{"blob_release", []string{l}, []string{i}},

		{"call_bind", []string{i, i, i, i}, []string{i}},
		{"call", []string{i, i, i, i, i}, []string{l}},
		{"call_result", []string{i, i}, []string{i}},
		{"call_error", []string{i, i}, []string{i}},
		{"call_serve", []string{i, i, i, i, i}, []string{i}},
		{"call_size", nil, []string{i}},

		{"sock_connect", []string{i, i, i}, []string{i}},

		{"surface_create", []string{i, i, i}, []string{i}},
		{"surface_destroy", []string{i}, []string{i}},
		{"surface_submit", []string{i, i, i}, []string{i}},
		{"surface_write", []string{i, i, i, i, i, i, i}, []string{i}},
		{"surface_present", []string{i}, []string{i}},
		{"surface_present_blob", []string{i, l}, []string{i}},
		{"surface_error", []string{i, i}, []string{i}},
	}
}
