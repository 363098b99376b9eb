package camera

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // the synthetic source's image may be a JPEG
	_ "image/png"  // or a PNG
	"os"
)

// synthetic draws the test pattern: colour bars scrolling one pixel per
// frame, a frame counter in binary along the top row, and, when
// configured, an image (a face, for the vision demo) bouncing across.
type synthetic struct {
	cfg    Config
	n      int
	img    *image.RGBA // scaled to at most 3/4 of the frame's height
	x, y   int
	dx, dy int
}

var bars = [8][3]byte{{235, 235, 235}, {235, 235, 16}, {16, 235, 235}, {16, 235, 16}, {235, 16, 235}, {235, 16, 16}, {16, 16, 235}, {16, 16, 16}}

func newSynthetic(cfg Config) (*synthetic, error) {
	s := &synthetic{cfg: cfg, dx: 2, dy: 1}
	if cfg.Image == "" {
		return s, nil
	}
	f, err := os.Open(cfg.Image)
	if err != nil {
		return nil, fmt.Errorf("synthetic image: %w", err)
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("synthetic image %s: %w", cfg.Image, err)
	}
	b := src.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 {
		return nil, fmt.Errorf("synthetic image %s is empty", cfg.Image)
	}
	h := cfg.height * 3 / 4
	w := b.Dx() * h / b.Dy()
	if w > cfg.width*3/4 {
		w = cfg.width * 3 / 4
		h = b.Dy() * w / b.Dx()
	}
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, src, b.Min, draw.Src)
	s.img = image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	for y := 0; y < s.img.Rect.Dy(); y++ { // nearest-neighbour: the pattern needs no better
		for x := 0; x < s.img.Rect.Dx(); x++ {
			sx, sy := x*b.Dx()/s.img.Rect.Dx(), y*b.Dy()/s.img.Rect.Dy()
			copy(s.img.Pix[s.img.PixOffset(x, y):][:4], rgba.Pix[rgba.PixOffset(sx, sy):][:4])
		}
	}
	s.x, s.y = (cfg.width-w)/2, (cfg.height-h)/2
	return s, nil
}

// frame returns the next frame, freshly allocated (it is handed over).
func (s *synthetic) frame() []byte {
	w, h := s.cfg.width, s.cfg.height
	px := make([]byte, w*h*4)
	for x := 0; x < w; x++ {
		c := bars[((x+s.n)*8/w)%8]
		i := x * 4
		px[i], px[i+1], px[i+2], px[i+3] = c[0], c[1], c[2], 255
	}
	for y := 1; y < h; y++ {
		copy(px[y*w*4:(y+1)*w*4], px[:w*4])
	}
	for bit := 0; bit < 32 && bit*4 < w; bit++ { // the frame number, 4 pixels a bit
		v := byte(0)
		if s.n>>bit&1 == 1 {
			v = 255
		}
		for k := 0; k < 4; k++ {
			i := (bit*4 + k) * 4
			px[i], px[i+1], px[i+2] = v, v, v
		}
	}
	if s.img != nil {
		iw, ih := s.img.Rect.Dx(), s.img.Rect.Dy()
		for y := 0; y < ih; y++ {
			copy(px[((s.y+y)*w+s.x)*4:][:iw*4], s.img.Pix[y*s.img.Stride:][:iw*4])
		}
		s.x += s.dx
		s.y += s.dy
		if s.x < 0 || s.x+iw > w {
			s.dx = -s.dx
			s.x += 2 * s.dx
		}
		if s.y < 2 || s.y+ih > h {
			s.dy = -s.dy
			s.y += 2 * s.dy
		}
		s.x, s.y = min(max(s.x, 0), w-iw), min(max(s.y, 2), h-ih)
	}
	s.n++
	if s.cfg.Format == "gray" {
		g := make([]byte, w*h)
		for i := range g {
			r, gr, b := uint32(px[i*4]), uint32(px[i*4+1]), uint32(px[i*4+2])
			g[i] = byte((19595*r + 38470*gr + 7471*b + 1<<15) >> 16)
		}
		return g
	}
	return px
}
