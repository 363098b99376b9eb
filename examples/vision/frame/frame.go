// Package frame decodes the images the vision library accepts into the
// 8-bit grayscale pico runs on:
//
//   - a raw frame: "RGBA" or "GRAY", width and height as u32 little-endian,
//     then the pixels, rows packed (the camera driver's snapshot format and
//     what a consumer of camera.NAME.frames builds from the blob);
//   - a PNG or JPEG file.
//
// Sizes are checked before any pixel buffer is allocated, so a hostile
// header (a 60000×60000 PNG of a few bytes) costs nothing.
package frame

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // registered for image.Decode
	_ "image/png"  // registered for image.Decode

	"github.com/orbitalfoundation/orbital/examples/vision/pico"
)

// Limits on an image's size.
const (
	MaxSide   = 4096
	MaxPixels = 4 << 20 // 4 Mpixel: 2048×2048, 2560×1600
)

func checkSize(w, h int) error {
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return fmt.Errorf("image of %dx%d pixels: each side must be 1..%d", w, h, MaxSide)
	}
	if w*h > MaxPixels {
		return fmt.Errorf("image of %dx%d pixels is more than %d pixels", w, h, MaxPixels)
	}
	return nil
}

// Decode returns the image in b as grayscale. Its errors say what was
// wrong with b.
func Decode(b []byte) (pico.Image, error) {
	if len(b) >= 4 && (string(b[:4]) == "RGBA" || string(b[:4]) == "GRAY") {
		return decodeRaw(b)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return pico.Image{}, fmt.Errorf("not an image (want a PNG, a JPEG or a raw RGBA/GRAY frame): %w", err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return pico.Image{}, fmt.Errorf("%s: %w", format, err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return pico.Image{}, fmt.Errorf("%s: %w", format, err)
	}
	return Gray(img), nil
}

func decodeRaw(b []byte) (pico.Image, error) {
	if len(b) < 12 {
		return pico.Image{}, fmt.Errorf("raw frame of %d bytes is shorter than its 12-byte header", len(b))
	}
	w, h := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	if w > MaxSide || h > MaxSide {
		return pico.Image{}, fmt.Errorf("raw frame of %dx%d pixels: each side must be 1..%d", w, h, MaxSide)
	}
	if err := checkSize(int(w), int(h)); err != nil {
		return pico.Image{}, fmt.Errorf("raw frame: %w", err)
	}
	bpp := 4
	if string(b[:4]) == "GRAY" {
		bpp = 1
	}
	px := b[12:]
	if want := int(w) * int(h) * bpp; len(px) != want {
		return pico.Image{}, fmt.Errorf("raw %s frame of %dx%d wants %d bytes of pixels, got %d", b[:4], w, h, want, len(px))
	}
	im := pico.Image{Width: int(w), Height: int(h), Stride: int(w)}
	if bpp == 1 {
		im.Pix = px
		return im, nil
	}
	im.Pix = make([]byte, int(w)*int(h))
	for i := range im.Pix {
		im.Pix[i] = Luma(px[4*i], px[4*i+1], px[4*i+2])
	}
	return im, nil
}

// Luma is the Rec. 601 luma of an RGB pixel, 0..255, in 16-bit fixed point
// (the weights 0.299, 0.587 and 0.114 sum to 65536, so white stays 255).
func Luma(r, g, b byte) byte {
	return byte((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// Gray converts any image to grayscale: a grayscale image and a JPEG's
// luma plane as they are, anything else through RGBA and Luma, so that a
// PNG and the raw frame of the same pixels give the same image.
func Gray(img image.Image) pico.Image {
	r := img.Bounds()
	switch g := img.(type) {
	case *image.Gray:
		return pico.Image{Pix: g.Pix, Width: r.Dx(), Height: r.Dy(), Stride: g.Stride}
	case *image.YCbCr:
		return pico.Image{Pix: g.Y, Width: r.Dx(), Height: r.Dy(), Stride: g.YStride}
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(r)
		draw.Draw(rgba, r, img, r.Min, draw.Src)
	}
	out := pico.Image{Pix: make([]byte, r.Dx()*r.Dy()), Width: r.Dx(), Height: r.Dy(), Stride: r.Dx()}
	for y := range r.Dy() {
		row := rgba.Pix[y*rgba.Stride:]
		for x := range r.Dx() {
			out.Pix[y*out.Stride+x] = Luma(row[4*x], row[4*x+1], row[4*x+2])
		}
	}
	return out
}
