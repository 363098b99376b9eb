// Command mkpng writes a W x H gradient PNG, used to make input images for
// the shrink example (it runs natively, not as a guest):
//
//	go run ./examples/shrink/mkpng out.png 640 480
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strconv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mkpng: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: mkpng OUT.png WIDTH HEIGHT")
	}
	w, err := strconv.Atoi(args[1])
	if err != nil || w <= 0 {
		return fmt.Errorf("bad width %q", args[1])
	}
	h, err := strconv.Atoi(args[2])
	if err != nil || h <= 0 {
		return fmt.Errorf("bad height %q", args[2])
	}

	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Red grows left to right, green top to bottom, blue along the diagonal.
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(255 * x / max(w-1, 1)),
				G: uint8(255 * y / max(h-1, 1)),
				B: uint8(255 * (x + y) / max(w+h-2, 1)),
				A: 255,
			})
		}
	}

	f, err := os.Create(args[0])
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
