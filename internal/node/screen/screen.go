// Package screen is the node's screen: the compositor (package
// compositor) sized and paced by the node config's [screen], the native
// displays it opens (an X11 window, the Linux framebuffer), and the
// window-management service on the bus ("$wm." subjects).
//
// Window management over the bus: a request on
//
//	$wm.list                 → api.ScreenInfo (JSON)
//	$wm.set  {api.WindowOp}  → {"ok":true} or {"error":"…"}
//	$wm.raise / $wm.focus / $wm.show / $wm.hide  {"window":"NAME"}
//
// "window" defaults to the requester's own name. "$wm." is reserved: a
// module may publish there only when its manifest's [bus] publish names
// it literally ("$wm.>" or "$wm.list"), so "publish everything" does not
// include managing other windows.
package screen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/compositor"
	"github.com/orbitalfoundation/orbital/internal/display"
	"github.com/orbitalfoundation/orbital/internal/display/fbdev"
	"github.com/orbitalfoundation/orbital/internal/node/config"
)

// Prefix is the subject prefix of window management.
const Prefix = "$wm."

// Screen is a running node screen.
type Screen struct {
	c        *compositor.Compositor
	log      *slog.Logger
	displays []display.Display
	conn     *orbital.Conn
	cancel   context.CancelFunc
	done     chan struct{}
}

// New starts the compositor and opens the configured native displays. A
// display that cannot open (no X server, no framebuffer) is an error
// naming it: the operator asked for it.
func New(cfg config.Screen, log *slog.Logger) (*Screen, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := compositor.New(compositor.Options{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, Logger: log})
	s := &Screen{c: c, log: log}
	for _, name := range cfg.Displays {
		var d display.Display
		var err error
		switch name {
		case "x11":
			d, err = openX11(cfg, c.Input)
		case "fbdev":
			d, err = fbdev.Open(cfg.Fbdev)
		default:
			err = fmt.Errorf("%w: unknown display %q", api.ErrInvalid, name)
		}
		if err != nil {
			_ = c.Close()
			for _, d := range s.displays {
				_ = d.Close()
			}
			return nil, fmt.Errorf("screen: display %s: %w", name, err)
		}
		s.displays = append(s.displays, d)
		c.AddDisplay(d)
		log.Info("display open", "display", name, "size", fmt.Sprintf("%dx%d", cfg.Width, cfg.Height))
	}
	go c.Run()
	return s, nil
}

// Compositor is the screen's compositor (the kernel's orbital.Screen).
func (s *Screen) Compositor() *compositor.Compositor { return s.c }

// Serve answers window-management requests on the kernel's bus until
// Close.
func (s *Screen) Serve(k *orbital.Kernel) error {
	conn, err := k.Connect("wm", orbital.ConnOptions{Subscribe: []string{Prefix + ">"}, Publish: []string{">"}})
	if err != nil {
		return fmt.Errorf("screen: connect: %w", err)
	}
	if _, err := conn.Subscribe(Prefix+">", ""); err != nil {
		conn.Close()
		return fmt.Errorf("screen: subscribe: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.conn, s.cancel, s.done = conn, cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			m, err := conn.Recv(ctx)
			if err != nil {
				return
			}
			if m.Reply == "" {
				continue
			}
			_ = conn.Reply(m, s.handle(m))
		}
	}()
	return nil
}

// handle answers one request.
func (s *Screen) handle(m orbital.Message) []byte {
	verb := strings.TrimPrefix(m.Subject, Prefix)
	if verb == "list" {
		b, _ := json.Marshal(s.c.Info())
		return b
	}
	var op api.WindowOp
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &op); err != nil {
			return errReply(fmt.Errorf("%w: %s: the request is not a JSON window operation: %v", api.ErrInvalid, m.Subject, err))
		}
	}
	if op.Window == "" {
		op.Window = m.From
	}
	t, f := true, false
	switch verb {
	case "set":
	case "raise":
		op.Raise = true
	case "focus":
		op.Focus = true
	case "show":
		op.Visible = &t
	case "hide":
		op.Visible = &f
	default:
		return errReply(fmt.Errorf("%w: unknown window operation %q (list, set, raise, focus, show, hide)", api.ErrInvalid, m.Subject))
	}
	if err := s.c.Apply(op); err != nil {
		return errReply(err)
	}
	return []byte(`{"ok":true}`)
}

func errReply(err error) []byte {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	return b
}

// Close stops the service, the compositor and the displays.
func (s *Screen) Close() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.conn.Close()
	}
	return errors.Join(s.c.Close())
}
