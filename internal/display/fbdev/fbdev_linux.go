//go:build linux

package fbdev

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var unsupported error // nil: Linux has framebuffers

// ioctl requests and constants of linux/fb.h.
const (
	fbiogetVscreeninfo = 0x4600
	fbiogetFscreeninfo = 0x4602
	visualTruecolor    = 2
	visualDirectcolor  = 4
)

type fbBitfield struct{ Offset, Length, MsbRight uint32 }

// varScreenInfo is struct fb_var_screeninfo.
type varScreenInfo struct {
	Xres, Yres, XresVirtual, YresVirtual, Xoffset, Yoffset uint32
	BitsPerPixel, Grayscale                                uint32
	Red, Green, Blue, Transp                               fbBitfield
	Nonstd, Activate, Height, Width, AccelFlags, Pixclock  uint32
	LeftMargin, RightMargin, UpperMargin, LowerMargin      uint32
	HsyncLen, VsyncLen, Sync, Vmode, Rotate, Colorspace    uint32
	Reserved                                               [4]uint32
}

// fixScreenInfo is struct fb_fix_screeninfo (unsigned long is uintptr).
type fixScreenInfo struct {
	ID                             [16]byte
	SmemStart                      uintptr
	SmemLen, Type, TypeAux, Visual uint32
	Xpanstep, Ypanstep, Ywrapstep  uint16
	LineLength                     uint32
	MmioStart                      uintptr
	MmioLen, Accel                 uint32
	Capabilities                   uint16
	Reserved                       [2]uint16
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// Open maps a framebuffer device such as /dev/fb0, reading its geometry
// from the kernel.
func Open(path string) (*Display, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("fbdev: %w", err)
	}
	var v varScreenInfo
	var fx fixScreenInfo
	if err := ioctl(f, fbiogetVscreeninfo, unsafe.Pointer(&v)); err != nil {
		f.Close()
		return nil, fmt.Errorf("fbdev: %s is not a framebuffer: FBIOGET_VSCREENINFO: %w", path, err)
	}
	if err := ioctl(f, fbiogetFscreeninfo, unsafe.Pointer(&fx)); err != nil {
		f.Close()
		return nil, fmt.Errorf("fbdev: %s is not a framebuffer: FBIOGET_FSCREENINFO: %w", path, err)
	}
	bf := func(b fbBitfield) Bitfield { return Bitfield{int(b.Offset), int(b.Length)} }
	g := Geometry{Width: int(v.Xres), Height: int(v.Yres), Stride: int(fx.LineLength), BitsPerPixel: int(v.BitsPerPixel),
		Red: bf(v.Red), Green: bf(v.Green), Blue: bf(v.Blue)}
	offset := int(v.Yoffset)*g.Stride + int(v.Xoffset)*g.BitsPerPixel/8
	err = g.check()
	switch {
	case err != nil:
	case fx.Visual != visualTruecolor && fx.Visual != visualDirectcolor:
		err = fmt.Errorf("unsupported visual %d (want true or direct colour)", fx.Visual)
	case v.Grayscale != 0 || v.Nonstd != 0 || v.Red.MsbRight|v.Green.MsbRight|v.Blue.MsbRight != 0:
		err = fmt.Errorf("unsupported pixel format (grayscale %d, nonstd %d)", v.Grayscale, v.Nonstd)
	case offset+(g.Height-1)*g.Stride+g.Width*g.BitsPerPixel/8 > int(fx.SmemLen):
		err = fmt.Errorf("screen %dx%d at offset %d exceeds %d bytes of video memory", g.Width, g.Height, offset, fx.SmemLen)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fbdev: %s: %w", path, err)
	}
	return newDisplay(f, g, int(fx.SmemLen), offset)
}

func mmap(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func munmap(b []byte) error { return unix.Munmap(b) }
