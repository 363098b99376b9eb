// Package camera is the camera driver: it streams frames continuously
// from a V4L2 device (Linux), a video file or ffmpeg's test source —
// through one long-running ffmpeg child emitting raw frames — or from a
// synthetic pattern drawn in Go (no ffmpeg needed), and publishes each
// frame as a blob on camera.NAME.frames. It registers itself as the
// in-process driver "camera"; cmd/camera-driver is the same driver as an
// out-of-process program.
//
// Config (the [[driver]]'s config table):
//
//	name    the camera's name in its subjects ("front"; default "0")
//	source  "synthetic" (default), "testsrc", "file" or "v4l2"
//	path    the video file or device (/dev/video0 for v4l2); it must be
//	        among the driver's granted resources
//	image   synthetic only: a PNG or JPEG drawn moving over the pattern
//	size    "WxH" (default 320x240); fps (default 15)
//	format  "rgba" (default) or "gray"
//	loop    file only: start again at the end (default true)
//	frames  stop the stream after this many frames (0: never)
//
// Subjects, NAME the camera's name:
//
//	camera.NAME.frames  header JSON {seq, ts, width, height, format,
//	                    stride, stream}; the blob is the pixels
//	camera.NAME.gap     {stream, seq, reason}: a stream (re)started,
//	                    frames before seq may be missing
//	camera.NAME.status  {state: "streaming"|"lost"|"ended", error?, retry_ms?}
package camera

import (
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/drivers"
)

//go:embed orbital.toml
var manifest []byte

// Manifest is the driver's orbital.toml.
func Manifest() []byte { return manifest }

func init() {
	drivers.Register(drivers.Info{Name: "camera", Manifest: manifest, New: func() drivers.Driver { return &Driver{} }})
}

// Version is the driver's version, as in its manifest.
const Version = "1.0.0"

// Config is the driver's configuration.
type Config struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Path   string `json:"path"`
	Image  string `json:"image"`
	Size   string `json:"size"`
	FPS    int    `json:"fps"`
	Format string `json:"format"`
	Loop   *bool  `json:"loop"`
	Frames int    `json:"frames"`

	width, height int
}

// Header is the JSON header of a frame message.
type Header struct {
	Seq    uint64 `json:"seq"`
	TS     int64  `json:"ts"` // capture time, Unix nanoseconds
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format string `json:"format"`
	Stride int    `json:"stride"`
	Stream int    `json:"stream"` // counts stream (re)starts
}

// ParseConfig reads and checks a camera's configuration.
func ParseConfig(raw []byte, resources []string) (Config, error) {
	var c Config
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			return c, fmt.Errorf("camera config: %w", err)
		}
	}
	if c.Name == "" {
		c.Name = "0"
	}
	if strings.ContainsAny(c.Name, ".*> \t") {
		return c, fmt.Errorf("camera config: name %q: one subject token, please", c.Name)
	}
	if c.Source == "" {
		c.Source = "synthetic"
	}
	if c.Size == "" {
		c.Size = "320x240"
	}
	w, h, ok := parseSize(c.Size)
	if !ok {
		return c, fmt.Errorf("camera config: size %q: want WxH, each 16 to 4096 and even", c.Size)
	}
	c.width, c.height = w, h
	if c.FPS == 0 {
		c.FPS = 15
	}
	if c.FPS < 1 || c.FPS > 240 {
		return c, fmt.Errorf("camera config: fps %d: want 1 to 240", c.FPS)
	}
	switch c.Format {
	case "":
		c.Format = "rgba"
	case "rgba", "gray":
	default:
		return c, fmt.Errorf("camera config: format %q: want rgba or gray", c.Format)
	}
	if c.Frames < 0 {
		return c, fmt.Errorf("camera config: frames must not be negative")
	}
	need := func(p *string) error {
		if *p == "" {
			return fmt.Errorf("camera config: source %q needs a path", c.Source)
		}
		if a, err := filepath.Abs(*p); err == nil {
			*p = a
		}
		if !slices.Contains(resources, *p) {
			return fmt.Errorf("camera config: %s is not among the driver's granted resources %q (add it to resources in its [[driver]])", *p, resources)
		}
		return nil
	}
	switch c.Source {
	case "synthetic":
		if c.Image != "" {
			if err := need(&c.Image); err != nil {
				return c, err
			}
		}
	case "testsrc":
	case "file":
		if err := need(&c.Path); err != nil {
			return c, err
		}
	case "v4l2":
		if c.Path == "" {
			c.Path = "/dev/video0"
		}
		if err := need(&c.Path); err != nil {
			return c, err
		}
	default:
		return c, fmt.Errorf("camera config: source %q: want synthetic, testsrc, file or v4l2", c.Source)
	}
	return c, nil
}

func parseSize(s string) (w, h int, ok bool) {
	a, b, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || w < 16 || h < 16 || w > 4096 || h > 4096 || w%2 != 0 || h%2 != 0 {
		return 0, 0, false
	}
	return w, h, true
}

// bpp is the bytes per pixel of the format.
func (c Config) bpp() int {
	if c.Format == "gray" {
		return 1
	}
	return 4
}

// Driver is the camera driver.
type Driver struct {
	h   drivers.Host
	cfg Config

	mu     sync.Mutex
	last   []byte // the latest frame's pixels
	state  string
	err    string
	frames uint64
	gaps   int
}

// Run streams until ctx ends. A source that fails (ffmpeg exits, the
// device is absent or goes away) is reported on camera.NAME.status and
// tried again with backoff; Run itself fails only on a bad config.
func (d *Driver) Run(ctx context.Context, h drivers.Host) error {
	cfg, err := ParseConfig(h.Config(), h.Resources())
	if err != nil {
		return err
	}
	d.h, d.cfg, d.state = h, cfg, "starting"
	h.Handle("snapshot", d.snapshot)
	h.Handle("info", d.info)
	prefix := h.Device() + "." + cfg.Name + "."
	var seq uint64
	backoff := 250 * time.Millisecond
	for stream := 0; ; stream++ {
		gap, _ := json.Marshal(map[string]any{"stream": stream, "seq": seq, "reason": map[bool]string{true: "driver started", false: "stream restarted"}[stream == 0]})
		_ = h.Publish(prefix+"gap", gap)
		d.mu.Lock()
		d.gaps++
		d.mu.Unlock()
		started := time.Now()
		n, err := d.stream(ctx, prefix, stream, &seq)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil { // the source ended (frames reached, file without loop)
			d.setState("ended", "")
			_ = h.Publish(prefix+"status", []byte(`{"state":"ended"}`))
			<-ctx.Done()
			return nil
		}
		if n > 0 && time.Since(started) > 5*time.Second {
			backoff = 250 * time.Millisecond
		}
		d.setState("lost", err.Error())
		st, _ := json.Marshal(map[string]any{"state": "lost", "error": err.Error(), "retry_ms": backoff.Milliseconds()})
		_ = h.Publish(prefix+"status", st)
		h.Logger().Warn("camera source lost; retrying", "camera", cfg.Name, "err", err, "retry", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (d *Driver) setState(state, err string) {
	d.mu.Lock()
	d.state, d.err = state, err
	d.mu.Unlock()
}

// stream runs one stream of the source; it returns how many frames it
// published and nil when the source ended by itself.
func (d *Driver) stream(ctx context.Context, prefix string, stream int, seq *uint64) (int, error) {
	cfg := d.cfg
	size := cfg.width * cfg.height * cfg.bpp()
	var next func() ([]byte, error)
	var closeSrc func()
	if cfg.Source == "synthetic" {
		s, err := newSynthetic(cfg)
		if err != nil {
			return 0, err
		}
		tick := time.NewTicker(time.Second / time.Duration(cfg.FPS))
		defer tick.Stop()
		next = func() ([]byte, error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
			}
			return s.frame(), nil
		}
		closeSrc = func() {}
	} else {
		src, err := startFFmpeg(ctx, cfg)
		if err != nil {
			return 0, err
		}
		closeSrc = src.close
		next = func() ([]byte, error) {
			buf := make([]byte, size)
			if _, err := io.ReadFull(src.out, buf); err != nil {
				if errors.Is(err, io.EOF) && src.clean() {
					return nil, io.EOF
				}
				return nil, src.failure(err)
			}
			return buf, nil
		}
	}
	defer closeSrc()
	n := 0
	for cfg.Frames == 0 || n < cfg.Frames {
		px, err := next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if n == 0 {
			d.setState("streaming", "")
			_ = d.h.Publish(prefix+"status", []byte(`{"state":"streaming"}`))
		}
		hdr, _ := json.Marshal(Header{Seq: *seq, TS: time.Now().UnixNano(), Width: cfg.width, Height: cfg.height,
			Format: cfg.Format, Stride: cfg.width * cfg.bpp(), Stream: stream})
		d.mu.Lock()
		d.last = px
		d.frames++
		d.mu.Unlock()
		_ = d.h.PublishFrame(prefix+"frames", hdr, px) // a full consumer's frames are dropped, not waited for
		*seq++
		n++
	}
	return n, nil
}

// RawFrame encodes pixels in the raw frame format of the snapshot call
// (and of the vision library's detect): "RGBA" or "GRAY", width and
// height as u32 little-endian, then the pixels.
func RawFrame(format string, width, height int, px []byte) []byte {
	tag := "RGBA"
	if format == "gray" {
		tag = "GRAY"
	}
	out := make([]byte, 12, 12+len(px))
	copy(out, tag)
	binary.LittleEndian.PutUint32(out[4:], uint32(width))
	binary.LittleEndian.PutUint32(out[8:], uint32(height))
	return append(out, px...)
}

func (d *Driver) snapshot(ctx context.Context, _ []byte) ([]byte, error) {
	d.mu.Lock()
	px, state, err := d.last, d.state, d.err
	d.mu.Unlock()
	if px == nil || state == "lost" {
		if err == "" {
			err = "no frame yet"
		}
		return nil, fmt.Errorf("camera %s (%s): %s", d.cfg.Name, state, err)
	}
	return RawFrame(d.cfg.Format, d.cfg.width, d.cfg.height, px), nil
}

func (d *Driver) info(ctx context.Context, _ []byte) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	src := d.cfg.Source
	if d.cfg.Path != "" {
		src += ":" + d.cfg.Path
	}
	return json.Marshal(map[string]any{"name": d.cfg.Name, "source": src, "width": d.cfg.width, "height": d.cfg.height,
		"fps": d.cfg.FPS, "format": d.cfg.Format, "state": d.state, "frames": d.frames, "gaps": d.gaps, "error": d.err})
}

// ffmpeg is one ffmpeg child writing raw frames to out.
type ffmpeg struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *tail
	done   chan struct{}
}

// startFFmpeg starts ffmpeg on the configured source.
func startFFmpeg(ctx context.Context, cfg Config) (*ffmpeg, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, fmt.Errorf("source %s needs ffmpeg (apt-get install ffmpeg): %w", cfg.Source, err)
	}
	size := fmt.Sprintf("%dx%d", cfg.width, cfg.height)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	switch cfg.Source {
	case "testsrc":
		args = append(args, "-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", size, cfg.FPS))
	case "file":
		if _, err := os.Stat(cfg.Path); err != nil {
			return nil, fmt.Errorf("video file: %w", err)
		}
		if cfg.Loop == nil || *cfg.Loop {
			args = append(args, "-stream_loop", "-1")
		}
		args = append(args, "-re", "-i", cfg.Path)
	case "v4l2":
		if _, err := os.Stat(cfg.Path); err != nil {
			return nil, fmt.Errorf("device absent: %w", err)
		}
		args = append(args, "-f", "v4l2", "-framerate", strconv.Itoa(cfg.FPS), "-video_size", size, "-i", cfg.Path)
	}
	pix := "rgba"
	if cfg.Format == "gray" {
		pix = "gray"
	}
	args = append(args, "-an", "-vf", fmt.Sprintf("scale=%d:%d,fps=%d", cfg.width, cfg.height, cfg.FPS),
		"-f", "rawvideo", "-pix_fmt", pix, "pipe:1")
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t := &tail{}
	cmd.Stderr = t
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	f := &ffmpeg{cmd: cmd, out: out, stderr: t, done: make(chan struct{})}
	return f, nil
}

// clean waits for ffmpeg to end and reports whether it succeeded.
func (f *ffmpeg) clean() bool { return f.cmd.Wait() == nil }

// failure describes why the stream broke.
func (f *ffmpeg) failure(readErr error) error {
	err := f.cmd.Wait()
	msg := strings.TrimSpace(f.stderr.String())
	switch {
	case msg != "":
		return fmt.Errorf("ffmpeg: %s (%v)", msg, err)
	case err != nil:
		return fmt.Errorf("ffmpeg: %v", err)
	}
	return fmt.Errorf("ffmpeg: %v", readErr)
}

func (f *ffmpeg) close() {
	if f.cmd.Process != nil {
		_ = f.cmd.Process.Kill()
	}
	_ = f.out.Close()
	_ = f.cmd.Wait()
}

// tail keeps the last 2 KiB of ffmpeg's error output.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = t.buf[len(t.buf)-2048:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
