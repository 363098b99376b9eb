// Command shrink is the "host metacompute" demo: a pure function from bytes
// to bytes. It reads a PNG or JPEG image on stdin, halves its width and
// height with a 2x2 box filter, and writes the result as PNG on stdout.
// Progress and errors go to stderr.
//
// Its manifest grants no file system at all: the host wires the `in` and
// `out` streams to stdio, so the module can transform data it is handed
// but cannot reach anything else on the machine.
package main

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder for image.Decode
	"image/png"
	"os"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "shrink: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	src, format, err := image.Decode(bufio.NewReader(os.Stdin))
	if err != nil {
		return fmt.Errorf("decode stdin: %w", err)
	}
	b := src.Bounds()
	fmt.Fprintf(os.Stderr, "shrink: read %s %dx%d\n", format, b.Dx(), b.Dy())

	dst := halve(src)

	w := bufio.NewWriter(os.Stdout)
	if err := png.Encode(w, dst); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	d := dst.Bounds()
	fmt.Fprintf(os.Stderr, "shrink: wrote png %dx%d\n", d.Dx(), d.Dy())
	return nil
}

// halve returns src scaled to half its width and height (rounded down, at
// least 1x1). Each output pixel is the average of the 2x2 block of source
// pixels it covers; at an odd right or bottom edge the block is clipped.
func halve(src image.Image) *image.NRGBA {
	b := src.Bounds()
	w, h := max(b.Dx()/2, 1), max(b.Dy()/2, 1)
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))

	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Sum premultiplied 16-bit channels over the block.
			var r, g, bl, a, n uint32
			for dy := 0; dy < 2; dy++ {
				sy := b.Min.Y + 2*y + dy
				if sy >= b.Max.Y {
					break
				}
				for dx := 0; dx < 2; dx++ {
					sx := b.Min.X + 2*x + dx
					if sx >= b.Max.X {
						break
					}
					pr, pg, pb, pa := src.At(sx, sy).RGBA()
					r, g, bl, a, n = r+pr, g+pg, bl+pb, a+pa, n+1
				}
			}
			// Average, then convert premultiplied -> straight alpha.
			c := color.RGBA64{
				R: uint16(r / n), G: uint16(g / n), B: uint16(bl / n), A: uint16(a / n),
			}
			dst.Set(x, y, color.NRGBAModel.Convert(c))
		}
	}
	return dst
}
