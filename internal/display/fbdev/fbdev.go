// Package fbdev shows composited frames on a Linux framebuffer device
// (/dev/fb0): it memory-maps the framebuffer and converts the dirty
// rectangles of each frame into its pixel format. It has no input.
package fbdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"os"

	"github.com/orbitalfoundation/orbital/internal/display"
)

// Bitfield places one colour channel in a pixel value: Length bits from
// bit Offset up (linux/fb.h struct fb_bitfield).
type Bitfield struct{ Offset, Length int }

// Geometry describes a framebuffer: its visible size in pixels, the bytes
// from one row to the next, the bits per pixel (16, 24 or 32) and where
// red, green and blue sit in a pixel value. Pixel values are stored
// little-endian.
type Geometry struct {
	Width, Height, Stride, BitsPerPixel int
	Red, Green, Blue                    Bitfield
}

// Display is a memory-mapped framebuffer. It implements display.Display.
type Display struct {
	file *os.File
	mem  []byte // the whole mapping
	pix  []byte // the visible screen within mem
	g    Geometry
	enc  func(dst []byte, r, g, b byte)
}

var errClosed = errors.New("fbdev: display closed")

// OpenFile maps a writable file (created if missing) as a framebuffer of
// geometry g; a regular file is truncated or extended to Stride×Height
// bytes. A zero Stride means Width×BitsPerPixel/8. It serves tests and
// devices whose geometry is known.
func OpenFile(path string, g Geometry) (*Display, error) {
	if unsupported != nil {
		return nil, unsupported
	}
	if g.Stride == 0 {
		g.Stride = g.Width * g.BitsPerPixel / 8
	}
	if err := g.check(); err != nil {
		return nil, fmt.Errorf("fbdev: %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fbdev: %w", err)
	}
	size := g.Stride * g.Height
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() != int64(size) {
		if err := f.Truncate(int64(size)); err != nil {
			f.Close()
			return nil, fmt.Errorf("fbdev: %w", err)
		}
	}
	return newDisplay(f, g, size, 0)
}

// newDisplay maps size bytes of f, the visible screen starting at offset.
func newDisplay(f *os.File, g Geometry, size, offset int) (*Display, error) {
	mem, err := mmap(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fbdev: mmap %s (%d bytes): %w", f.Name(), size, err)
	}
	return &Display{file: f, mem: mem, pix: mem[offset:], g: g, enc: g.encoder()}, nil
}

// check reports whether the geometry is one Show can convert into.
func (g Geometry) check() error {
	if g.BitsPerPixel != 16 && g.BitsPerPixel != 24 && g.BitsPerPixel != 32 {
		return fmt.Errorf("unsupported depth: %d bits per pixel (want 16, 24 or 32)", g.BitsPerPixel)
	}
	if g.Width <= 0 || g.Height <= 0 || g.Stride < g.Width*g.BitsPerPixel/8 {
		return fmt.Errorf("bad geometry %dx%d, stride %d", g.Width, g.Height, g.Stride)
	}
	for _, b := range []Bitfield{g.Red, g.Green, g.Blue} {
		if b.Length < 1 || b.Length > 16 || b.Offset < 0 || b.Offset+b.Length > g.BitsPerPixel {
			return fmt.Errorf("unsupported channel bitfield %+v in %d bits per pixel", b, g.BitsPerPixel)
		}
	}
	return nil
}

// scale turns an 8-bit channel value into b's width (truncating, or
// repeating the top bits when wider) and shifts it into place.
func (b Bitfield) scale(v byte) uint32 {
	if b.Length <= 8 {
		return uint32(v>>(8-b.Length)) << b.Offset
	}
	return (uint32(v)<<(b.Length-8) | uint32(v)>>(16-b.Length)) << b.Offset
}

func (b Bitfield) mask() uint32 { return (1<<b.Length - 1) << b.Offset }

// encoder returns a function writing one pixel in the geometry's format.
// Bits outside the three channels (padding, alpha) are set, so that a
// framebuffer that honours its alpha channel shows opaque pixels.
func (g Geometry) encoder() func(dst []byte, r, gr, b byte) {
	fill := uint32(uint64(1)<<g.BitsPerPixel-1) &^ (g.Red.mask() | g.Green.mask() | g.Blue.mask())
	red, green, blue := g.Red, g.Green, g.Blue
	px := func(r, gr, b byte) uint32 { return red.scale(r) | green.scale(gr) | blue.scale(b) | fill }
	switch g.BitsPerPixel {
	case 32:
		return func(dst []byte, r, gr, b byte) { binary.LittleEndian.PutUint32(dst, px(r, gr, b)) }
	case 24:
		return func(dst []byte, r, gr, b byte) {
			v := px(r, gr, b)
			dst[0], dst[1], dst[2] = byte(v), byte(v>>8), byte(v>>16)
		}
	default:
		return func(dst []byte, r, gr, b byte) { binary.LittleEndian.PutUint16(dst, uint16(px(r, gr, b))) }
	}
}

// Name returns "fbdev".
func (d *Display) Name() string { return "fbdev" }

// Geometry returns the framebuffer's geometry.
func (d *Display) Geometry() Geometry { return d.g }

// Show converts the dirty rectangles of f, clipped to the frame and the
// framebuffer, into the framebuffer. Premultiplied RGBA composited onto
// opaque black is just its RGB.
func (d *Display) Show(f display.Frame, dirty []image.Rectangle) error {
	if d.pix == nil {
		return errClosed
	}
	bounds := image.Rect(0, 0, min(f.W, d.g.Width), min(f.H, d.g.Height))
	n := d.g.BitsPerPixel / 8
	for _, r := range dirty {
		if r = r.Intersect(bounds); r.Empty() {
			continue
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src, dst := f.Pix[y*f.Stride+4*r.Min.X:], d.pix[y*d.g.Stride+n*r.Min.X:]
			for i := range r.Dx() {
				d.enc(dst[n*i:], src[4*i], src[4*i+1], src[4*i+2])
			}
		}
	}
	return nil
}

// Close unmaps the framebuffer and closes its file.
func (d *Display) Close() error {
	if d.mem == nil {
		return nil
	}
	err := munmap(d.mem)
	d.mem, d.pix = nil, nil
	if cerr := d.file.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fbdev: close %s: %w", d.file.Name(), err)
	}
	return nil
}
