//go:build !x11

package screen

import (
	"errors"

	"github.com/orbitalfoundation/orbital/internal/display"
	"github.com/orbitalfoundation/orbital/internal/node/config"
)

// HasX11 reports whether this build can open an X11 window (-tags x11:
// bin/orbital-server, the desktop build).
const HasX11 = false

// errNoX11 is the device build's answer to displays = ["x11"]: the X11
// client stays out of the small binary.
var errNoX11 = errors.New("this build has no X11 display: use bin/orbital-server (built with -tags x11), or displays = [\"fbdev\"]")

func openX11(config.Screen, display.Sink) (display.Display, error) { return nil, errNoX11 }
