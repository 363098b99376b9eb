package control

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"sync"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/display"
)

// Screen is the node's compositor, for the operator and the admin panel.
type Screen interface {
	Info() api.ScreenInfo
	Apply(op api.WindowOp) error
	// Snapshot is the composited screen (window "") or one window's
	// presented surface.
	Snapshot(window string) (*image.NRGBA, error)
	WatchWindow(name string) (<-chan struct{}, func(), error)
	WindowFrame(name string, buf []byte) ([]byte, int, int, error)
	AddDisplay(d display.Display) (remove func())
	Input(ev display.Event)
}

// Screen routes (registered when Backends.Screen is set):
//
//	GET  screen                       api.ScreenInfo: size, rate, displays, windows
//	GET  screen.png[?window=NAME]     a PNG of the screen or of one window's surface
//	GET  screen/stream[?window=NAME]  frames as they change (FrameStreamType)
//	POST screen/input                 a display.Event (screen coordinates; with "window": that window's)
//	POST windows/{name}               an api.WindowOp
//
// FrameStreamType is the media type of screen/stream: a sequence of
// records, each
//
//	u32 length of the rest, u16 x, u16 y, u16 width, u16 height (the rectangle),
//	u16 screen width, u16 screen height, then a PNG of the rectangle
//
// (little-endian): the first record covers everything, later ones only
// what changed. Records are sent only while the client reads: a slow one
// gets fewer, larger rectangles.
const FrameStreamType = "application/x-orbital-frames"

func (a *API) screenRoutes() {
	s := a.b.Screen
	mux := a.mux
	mux.HandleFunc("GET /api/v1/screen", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Info()) })
	mux.HandleFunc("GET /api/v1/windows", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Info().Windows) })
	mux.HandleFunc("POST /api/v1/windows/{name}", func(w http.ResponseWriter, r *http.Request) {
		var op api.WindowOp
		if err := decodeBody(r, &op); err != nil {
			reply(w, err, nil)
			return
		}
		op.Window = r.PathValue("name")
		reply(w, s.Apply(op), map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /api/v1/screen.png", func(w http.ResponseWriter, r *http.Request) {
		img, err := s.Snapshot(r.URL.Query().Get("window"))
		if err != nil {
			reply(w, err, nil)
			return
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			reply(w, fmt.Errorf("%w: encode: %v", api.ErrFailed, err), nil)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("POST /api/v1/screen/input", func(w http.ResponseWriter, r *http.Request) {
		var ev display.Event
		if err := decodeBody(r, &ev); err != nil {
			reply(w, err, nil)
			return
		}
		switch ev.Kind {
		case display.Pointer, display.Key, display.Touch:
		default:
			reply(w, fmt.Errorf("%w: input type %q: want pointer, key or touch", api.ErrInvalid, ev.Kind), nil)
			return
		}
		s.Input(ev)
		reply(w, nil, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /api/v1/screen/stream", a.streamScreen)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", api.ErrInvalid, err)
	}
	return nil
}

var pngEnc = png.Encoder{CompressionLevel: png.BestSpeed}

// writeRecord writes one frame record: rectangle r of the premultiplied
// pixels pix (stride, full size sw×sh).
func writeRecord(bw *bufio.Writer, pix []byte, stride, sw, sh int, r image.Rectangle, buf *bytes.Buffer) error {
	img := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		src := pix[(r.Min.Y+y)*stride+r.Min.X*4 : (r.Min.Y+y)*stride+r.Max.X*4]
		dst := img.Pix[y*img.Stride : y*img.Stride+r.Dx()*4]
		for i := 0; i < len(src); i += 4 {
			a := uint32(src[i+3])
			dst[i+3] = byte(a)
			if a == 255 {
				dst[i], dst[i+1], dst[i+2] = src[i], src[i+1], src[i+2]
			} else if a > 0 {
				for k := 0; k < 3; k++ {
					dst[i+k] = byte(min(255, (uint32(src[i+k])*255+a/2)/a))
				}
			}
		}
	}
	buf.Reset()
	if err := pngEnc.Encode(buf, img); err != nil {
		return err
	}
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(12+buf.Len()))
	for i, v := range []int{r.Min.X, r.Min.Y, r.Dx(), r.Dy(), sw, sh} {
		binary.LittleEndian.PutUint16(h[4+2*i:], uint16(v))
	}
	if _, err := bw.Write(h[:]); err != nil {
		return err
	}
	_, err := bw.Write(buf.Bytes())
	return err
}

// streamScreen serves screen/stream: the composited screen through a
// display attached for as long as the client reads, or one window's
// presented frames.
func (a *API) streamScreen(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		reply(w, fmt.Errorf("%w: streaming unsupported", api.ErrFailed), nil)
		return
	}
	window := r.URL.Query().Get("window")
	var wake <-chan struct{}
	var stop func()
	var sd *streamDisplay
	if window != "" {
		ch, cancel, err := a.b.Screen.WatchWindow(window)
		if err != nil {
			reply(w, err, nil)
			return
		}
		wake, stop = ch, cancel
	} else {
		sd = &streamDisplay{wake: make(chan struct{}, 1)}
		stop = a.b.Screen.AddDisplay(sd)
		wake = sd.wake
	}
	defer stop()
	w.Header().Set("Content-Type", FrameStreamType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	bw := bufio.NewWriterSize(w, 64<<10)
	var enc bytes.Buffer
	var pix []byte
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		if sd != nil {
			var rects []image.Rectangle
			var sw, sh int
			pix, rects, sw, sh = sd.take(pix)
			for _, rc := range rects {
				if err := writeRecord(bw, pix, 4*sw, sw, sh, rc, &enc); err != nil {
					return
				}
			}
		} else {
			var sw, sh int
			var err error
			pix, sw, sh, err = a.b.Screen.WindowFrame(window, pix)
			if err != nil {
				return // the window went away
			}
			if sw == 0 {
				continue
			}
			if err := writeRecord(bw, pix, 4*sw, sw, sh, image.Rect(0, 0, sw, sh), &enc); err != nil {
				return
			}
		}
		if bw.Flush() != nil {
			return
		}
		fl.Flush()
	}
}

// streamDisplay is a display.Display that keeps the screen and the
// rectangles not yet sent, for one streaming client.
type streamDisplay struct {
	mu    sync.Mutex
	pix   []byte
	w, h  int
	dirty []image.Rectangle
	wake  chan struct{}
}

func (d *streamDisplay) Name() string { return "browser" }
func (d *streamDisplay) Close() error { return nil }

func (d *streamDisplay) Show(f display.Frame, dirty []image.Rectangle) error {
	d.mu.Lock()
	if d.pix == nil || d.w != f.W || d.h != f.H {
		d.pix, d.w, d.h = make([]byte, f.W*f.H*4), f.W, f.H
		dirty = []image.Rectangle{image.Rect(0, 0, f.W, f.H)}
		d.dirty = nil
	}
	for _, r := range dirty {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			copy(d.pix[(y*f.W+r.Min.X)*4:(y*f.W+r.Max.X)*4], f.Pix[y*f.Stride+r.Min.X*4:y*f.Stride+r.Max.X*4])
		}
	}
	d.dirty = append(d.dirty, dirty...)
	if len(d.dirty) > 8 { // a slow reader: one larger rectangle
		u := d.dirty[0]
		for _, r := range d.dirty[1:] {
			u = u.Union(r)
		}
		d.dirty = []image.Rectangle{u}
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// take copies the screen into buf and returns it with the rectangles to
// send.
func (d *streamDisplay) take(buf []byte) ([]byte, []image.Rectangle, int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	buf = append(buf[:0], d.pix...)
	rs := d.dirty
	d.dirty = nil
	return buf, rs, d.w, d.h
}
