//go:build x11

package screen

import (
	"github.com/orbitalfoundation/orbital/internal/display"
	"github.com/orbitalfoundation/orbital/internal/display/x11"
	"github.com/orbitalfoundation/orbital/internal/node/config"
)

// HasX11 reports whether this build can open an X11 window (-tags x11:
// bin/orbital-server, the desktop build).
const HasX11 = true

func openX11(cfg config.Screen, sink display.Sink) (display.Display, error) {
	return x11.Open(x11.Options{Addr: cfg.X11, Title: "Orbital", Width: cfg.Width, Height: cfg.Height, Sink: sink})
}
