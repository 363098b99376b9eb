// Package raster is Orbital's software rasterizer and the surfaces it
// draws into: host-owned, premultiplied RGBA8 colour buffers with an
// optional depth buffer, owned by one process and charged to its memory
// limit, drawn by command lists (see commands.go and docs/ABI.md,
// "Raster") submitted in one host call per frame.
//
// A Set holds the surfaces of one process. The surface created with
// abi.RasterWindow is the process's window: it is double-buffered (the
// guest draws into the back buffer, Present makes it the front buffer)
// and the compositor shows its front buffer. Other surfaces are
// single-buffered textures and scratch buffers for TEXTURE and BLIT.
//
// The package imports only the standard library, api and internal/abi: it
// knows nothing of processes, the bus or displays.
package raster

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
)

// Budget is the memory a Set charges its buffers to: the owning process's
// memory limit, shared with its linear memory.
type Budget interface {
	// Reserve takes n bytes, or reports false when they are not there.
	Reserve(n int64) bool
	// Release gives n bytes back.
	Release(n int64)
}

// Limits bound what a process may create: the display grant.
type Limits struct {
	MaxWidth, MaxHeight int // largest surface (0: abi.RasterMaxSide)
	MaxSurfaces         int // surfaces at once (0: 64)
}

// Surface is one colour buffer (two for a window) with an optional depth
// buffer. Drawing (Submit, Write) touches only the back buffer; Present
// publishes it; readers (the compositor) see only the front buffer, under
// View.
type Surface struct {
	id    uint32
	w, h  int
	flags uint32

	dmu   sync.Mutex // serializes drawing into back and depth
	back  []byte
	depth []float32 // nil without a depth buffer; 24-bit values are stored as integers

	mu         sync.RWMutex // guards front, frontDepth, spare and blobRel against View
	front      []byte
	frontDepth []float32 // a window's presented depth (nil: none, or a blob frame)
	spare      []byte    // the other owned buffer while front is a blob
	spareDepth []float32 // and its depth
	blobRel    func()    // releases the blob that is the front buffer, if any
	seq        atomic.Uint64
}

// ID is the surface's handle within its Set.
func (s *Surface) ID() uint32 { return s.id }

// Size is the surface's width and height in pixels.
func (s *Surface) Size() (w, h int) { return s.w, s.h }

// Window reports whether the surface is its process's window.
func (s *Surface) Window() bool { return s.flags&abi.RasterWindow != 0 }

// HasDepth reports whether the surface has a depth buffer.
func (s *Surface) HasDepth() bool { return s.flags&(abi.RasterDepth32F|abi.RasterDepth24) != 0 }

// Presents counts the frames presented so far.
func (s *Surface) Presents() uint64 { return s.seq.Load() }

// View calls fn with the front buffer (premultiplied RGBA8, stride 4·w)
// and the depth presented with it (nil when none; values in [0, 1]·scale),
// read-only and valid only during the call. Present waits for it.
func (s *Surface) View(fn func(pix []byte, depth []float32, scale float32, w, h int)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	scale := float32(1)
	if s.flags&abi.RasterDepth24 != 0 {
		scale = depth24Max
	}
	fn(s.front, s.frontDepth, scale, s.w, s.h)
}

// Set is the surfaces of one process.
type Set struct {
	lim    Limits
	budget Budget

	mu       sync.Mutex
	surfaces map[uint32]*Surface
	next     uint32
	window   *Surface
	bytes    int64
	closed   bool
	lastErr  string
	onChange atomic.Pointer[func(*Surface)]

	stats struct {
		commands, triangles, errors atomic.Uint64
	}
}

// NewSet returns an empty Set bounded by lim and charging b (nil: no
// budget).
func NewSet(lim Limits, b Budget) *Set {
	if lim.MaxWidth <= 0 || lim.MaxWidth > abi.RasterMaxSide {
		lim.MaxWidth = abi.RasterMaxSide
	}
	if lim.MaxHeight <= 0 || lim.MaxHeight > abi.RasterMaxSide {
		lim.MaxHeight = abi.RasterMaxSide
	}
	if lim.MaxSurfaces <= 0 {
		lim.MaxSurfaces = 64
	}
	return &Set{lim: lim, budget: b, surfaces: map[uint32]*Surface{}}
}

// Limits returns the set's limits.
func (s *Set) Limits() Limits { return s.lim }

// OnChange makes fn run (on the presenting goroutine) after every present
// of a window surface and when the window is created or destroyed (then
// with the surface, or nil). fn must not block.
func (s *Set) OnChange(fn func(*Surface)) { s.onChange.Store(&fn) }

func (s *Set) changed(sf *Surface) {
	if fn := s.onChange.Load(); fn != nil {
		(*fn)(sf)
	}
}

// surfaceBytes is what a surface of that shape costs.
func surfaceBytes(w, h int, flags uint32) int64 {
	n := int64(w) * int64(h) * 4
	total := n
	if flags&abi.RasterWindow != 0 {
		total += n
	}
	if flags&(abi.RasterDepth32F|abi.RasterDepth24) != 0 {
		total += n
		if flags&abi.RasterWindow != 0 { // presented with the frame
			total += n
		}
	}
	return total
}

const knownFlags = abi.RasterWindow | abi.RasterDepth32F | abi.RasterDepth24 | abi.RasterPreserve

// Create makes a surface of w×h pixels. Errors wrap api.ErrInvalid (bad
// size or flags, a second window), api.ErrLimit (larger than granted, too
// many surfaces, over the memory budget) or api.ErrClosed.
func (s *Set) Create(w, h int, flags uint32) (*Surface, error) {
	switch {
	case flags&^knownFlags != 0:
		return nil, s.fail(fmt.Errorf("%w: unknown surface flags %#x", api.ErrInvalid, flags&^knownFlags))
	case flags&abi.RasterDepth32F != 0 && flags&abi.RasterDepth24 != 0:
		return nil, s.fail(fmt.Errorf("%w: a surface has one depth format, not both", api.ErrInvalid))
	case flags&abi.RasterPreserve != 0 && flags&abi.RasterWindow == 0:
		return nil, s.fail(fmt.Errorf("%w: RASTER_PRESERVE only applies to a window", api.ErrInvalid))
	case w <= 0 || h <= 0:
		return nil, s.fail(fmt.Errorf("%w: surface size %dx%d", api.ErrInvalid, w, h))
	case w > s.lim.MaxWidth || h > s.lim.MaxHeight:
		return nil, s.fail(fmt.Errorf("%w: surface %dx%d is larger than the %dx%d granted", api.ErrLimit, w, h, s.lim.MaxWidth, s.lim.MaxHeight))
	}
	cost := surfaceBytes(w, h, flags)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, s.failLocked(fmt.Errorf("surfaces: %w", api.ErrClosed))
	case len(s.surfaces) >= s.lim.MaxSurfaces:
		return nil, s.failLocked(fmt.Errorf("%w: %d surfaces at once", api.ErrLimit, s.lim.MaxSurfaces))
	case flags&abi.RasterWindow != 0 && s.window != nil:
		return nil, s.failLocked(fmt.Errorf("%w: the process already has a window (surface %d)", api.ErrInvalid, s.window.id))
	}
	if s.budget != nil && !s.budget.Reserve(cost) {
		return nil, s.failLocked(fmt.Errorf("%w: a %dx%d surface needs %d bytes more than the process's memory limit allows", api.ErrLimit, w, h, cost))
	}
	n := w * h * 4
	sf := &Surface{w: w, h: h, flags: flags, back: make([]byte, n)}
	if flags&abi.RasterWindow != 0 {
		sf.front = make([]byte, n)
	} else {
		sf.front = sf.back // single-buffered
	}
	if flags&(abi.RasterDepth32F|abi.RasterDepth24) != 0 {
		sf.depth = make([]float32, w*h)
		far := float32(1)
		if flags&abi.RasterDepth24 != 0 {
			far = depth24Max
		}
		for i := range sf.depth {
			sf.depth[i] = far
		}
		if sf.Window() {
			sf.frontDepth = append([]float32(nil), sf.depth...)
		}
	}
	s.next++
	sf.id = s.next
	s.surfaces[sf.id] = sf
	s.bytes += cost
	if sf.Window() {
		s.window = sf
	}
	return sf, nil
}

// Get returns the surface with handle id.
func (s *Set) Get(id uint32) (*Surface, bool) {
	s.mu.Lock()
	sf, ok := s.surfaces[id]
	s.mu.Unlock()
	return sf, ok
}

func (s *Set) get(id uint32) (*Surface, error) {
	sf, ok := s.Get(id)
	if !ok {
		return nil, s.fail(fmt.Errorf("%w: no surface %d", api.ErrNotFound, id))
	}
	return sf, nil
}

// Window returns the process's window surface, or nil.
func (s *Set) Window() *Surface {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window
}

// Bytes is what the set's buffers take.
func (s *Set) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Len is the number of surfaces.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.surfaces)
}

// Destroy frees surface id and gives its memory back.
func (s *Set) Destroy(id uint32) error {
	s.mu.Lock()
	sf, ok := s.surfaces[id]
	if !ok {
		s.mu.Unlock()
		return s.fail(fmt.Errorf("%w: no surface %d", api.ErrNotFound, id))
	}
	s.drop(sf)
	win := sf == s.window
	if win {
		s.window = nil
	}
	s.mu.Unlock()
	if win {
		s.changed(nil)
	}
	return nil
}

// drop frees sf; s.mu is held.
func (s *Set) drop(sf *Surface) {
	delete(s.surfaces, sf.id)
	cost := surfaceBytes(sf.w, sf.h, sf.flags)
	s.bytes -= cost
	if s.budget != nil {
		s.budget.Release(cost)
	}
	sf.dmu.Lock()
	sf.mu.Lock()
	if sf.blobRel != nil {
		sf.blobRel()
		sf.blobRel = nil
	}
	sf.back, sf.front, sf.spare, sf.depth, sf.frontDepth = nil, nil, nil, nil, nil
	sf.mu.Unlock()
	sf.dmu.Unlock()
}

// Close frees every surface; later calls fail with api.ErrClosed.
func (s *Set) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	had := s.window != nil
	for _, sf := range s.surfaces {
		s.drop(sf)
	}
	s.window = nil
	s.mu.Unlock()
	if had {
		s.changed(nil)
	}
}

// Submit decodes the command list cmds and draws it into surface id's
// back buffer. A malformed list draws nothing: the error (a
// *CommandError wrapping api.ErrInvalid) says which command is wrong and
// why.
func (s *Set) Submit(id uint32, cmds []byte) error {
	sf, err := s.get(id)
	if err != nil {
		return err
	}
	list, err := decode(cmds, s, id)
	if err != nil {
		s.stats.errors.Add(1)
		return s.fail(err)
	}
	sf.dmu.Lock()
	defer sf.dmu.Unlock()
	if sf.back == nil {
		return s.fail(fmt.Errorf("surface %d: %w", id, api.ErrClosed))
	}
	tris := list.exec(sf)
	s.stats.commands.Add(uint64(list.n))
	s.stats.triangles.Add(uint64(tris))
	return nil
}

// Write copies a w×h rectangle of premultiplied RGBA8 pixels (rows stride
// bytes apart) into surface id's back buffer at (x, y). The rectangle
// must lie inside the surface.
func (s *Set) Write(id uint32, x, y, w, h int, pix []byte, stride int) error {
	sf, err := s.get(id)
	if err != nil {
		return err
	}
	if w < 0 || h < 0 || x < 0 || y < 0 || x+w > sf.w || y+h > sf.h || stride < 4*w {
		return s.fail(fmt.Errorf("%w: write %dx%d at (%d,%d) stride %d into a %dx%d surface", api.ErrInvalid, w, h, x, y, stride, sf.w, sf.h))
	}
	if h > 0 && len(pix) < (h-1)*stride+4*w {
		return s.fail(fmt.Errorf("%w: write needs %d bytes, got %d", api.ErrInvalid, (h-1)*stride+4*w, len(pix)))
	}
	sf.dmu.Lock()
	defer sf.dmu.Unlock()
	if sf.back == nil {
		return s.fail(fmt.Errorf("surface %d: %w", id, api.ErrClosed))
	}
	for r := 0; r < h; r++ {
		copy(sf.back[((y+r)*sf.w+x)*4:((y+r)*sf.w+x+w)*4], pix[r*stride:r*stride+4*w])
	}
	return nil
}

// Present makes the back buffer of window surface id the front buffer.
// Without RASTER_PRESERVE the buffers swap (the new back buffer holds an
// older frame); with it the back buffer is copied and keeps its content.
// Presenting a texture is a no-op.
func (s *Set) Present(id uint32) error {
	sf, err := s.get(id)
	if err != nil {
		return err
	}
	if !sf.Window() {
		return nil
	}
	sf.dmu.Lock()
	sf.mu.Lock()
	if sf.back == nil {
		sf.mu.Unlock()
		sf.dmu.Unlock()
		return s.fail(fmt.Errorf("surface %d: %w", id, api.ErrClosed))
	}
	if sf.blobRel != nil { // the front is a blob: give it back, use the spare buffer
		sf.blobRel()
		sf.blobRel = nil
		sf.front, sf.spare = sf.spare, nil
		sf.frontDepth = sf.spareDepth
	}
	if sf.flags&abi.RasterPreserve != 0 {
		copy(sf.front, sf.back)
		copy(sf.frontDepth, sf.depth)
	} else {
		sf.front, sf.back = sf.back, sf.front
		sf.frontDepth, sf.depth = sf.depth, sf.frontDepth
	}
	sf.seq.Add(1)
	sf.mu.Unlock()
	sf.dmu.Unlock()
	s.changed(sf)
	return nil
}

// PresentBytes makes pix (premultiplied RGBA8, exactly w·h·4 bytes) the
// front buffer of window surface id without copying it, until the next
// present; release is called when the surface lets go of it. This is how
// a guest shows a blob (a camera frame) it was handed.
func (s *Set) PresentBytes(id uint32, pix []byte, release func()) error {
	sf, err := s.get(id)
	if err != nil {
		return err
	}
	if !sf.Window() {
		return s.fail(fmt.Errorf("%w: surface %d is not a window", api.ErrInvalid, id))
	}
	if len(pix) != sf.w*sf.h*4 {
		return s.fail(fmt.Errorf("%w: %d bytes for a %dx%d surface (needs %d)", api.ErrInvalid, len(pix), sf.w, sf.h, sf.w*sf.h*4))
	}
	sf.mu.Lock()
	if sf.back == nil {
		sf.mu.Unlock()
		return s.fail(fmt.Errorf("surface %d: %w", id, api.ErrClosed))
	}
	if sf.blobRel != nil {
		sf.blobRel()
	} else {
		sf.spare, sf.spareDepth = sf.front, sf.frontDepth
	}
	sf.front, sf.frontDepth, sf.blobRel = pix, nil, release
	sf.seq.Add(1)
	sf.mu.Unlock()
	s.changed(sf)
	return nil
}

// LastError is the message of the last failed call (for surface_error).
func (s *Set) LastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Fail records err as the last failure (for failures found before the
// set is reached: a command list past the guest's memory) and returns it.
func (s *Set) Fail(err error) error { return s.fail(err) }

func (s *Set) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failLocked(err)
}

func (s *Set) failLocked(err error) error {
	s.lastErr = err.Error()
	return err
}

// Stats are a set's counters.
type Stats struct {
	Surfaces  int    `json:"surfaces"`
	Bytes     int64  `json:"bytes"`
	Commands  uint64 `json:"commands"`
	Triangles uint64 `json:"triangles"`
	Errors    uint64 `json:"errors"`
}

// Stats returns the set's counters.
func (s *Set) Stats() Stats {
	s.mu.Lock()
	st := Stats{Surfaces: len(s.surfaces), Bytes: s.bytes}
	s.mu.Unlock()
	st.Commands, st.Triangles, st.Errors = s.stats.commands.Load(), s.stats.triangles.Load(), s.stats.errors.Load()
	return st
}
