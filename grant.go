package orbital

import (
	"fmt"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Grant is what the operator or the host's policy allows a process or a
// library: directories, environment, arguments, stdio, clock, randomness,
// library calls and resource ceilings. A module with a manifest gets only
// what it requests *and* is granted; the error of a refused request names
// the grant that would allow it.
type Grant struct {
	Dirs                  []Dir             // host directories at guest paths
	Env                   map[string]string // variables offered
	Args                  []string          // argv after the program name
	Stdin, Stdout, Stderr bool
	Clock, Random         bool
	// Network lists the sockets allowed: "tcp-listen://HOST:PORT" (the
	// kernel listens there and hands the guest the listener) and
	// "tcp://HOST:PORT" (the guest may dial it); HOST or PORT may be "*".
	Network []string
	Limits  Limits // ceilings; zero fields mean the defaults (256 MiB, no deadline, 64 files)
	// Display is the largest surface the process may create (a module
	// asks for a range in [capabilities.display]); zero: no display.
	Display Size
	// Input lets the process's window receive keyboard, pointer and
	// touch events while it has the focus.
	Input bool
	// Devices lists the devices (drivers, by name) the process may use:
	// call their functions and subscribe to their subjects NAME.>.
	Devices []string
	// Calls lists the library calls allowed: "*" (every declared
	// dependency), "LIB" or "LIB.*" (every function of LIB), "LIB.FUNCTION".
	Calls []string
}

// Dir grants a host directory at a guest path, read-only or read-write.
type Dir struct {
	Host     string // host directory
	Guest    string // absolute, clean guest path
	ReadOnly bool
}

// Size is a width and height in pixels.
type Size struct{ Width, Height int }

// ParseSize parses "WxH" ("640x480"), as orbital run --display and a
// node config's display take it. Errors wrap api.ErrInvalid.
func ParseSize(s string) (Size, error) {
	w, h, err := manifest.ParseDisplaySize(s)
	if err != nil {
		return Size{}, fmt.Errorf("%w: display size %w", api.ErrInvalid, err)
	}
	return Size{w, h}, nil
}

// Limits are resource ceilings.
type Limits struct {
	MemoryPages uint32        // linear memory, in 64 KiB wasm pages
	Deadline    time.Duration // CPU deadline per call into the guest; 0 = none
	OpenFiles   int           // open file descriptors
}

// ParseDir parses "HOST:GUEST[:ro|rw]" (orbital run --dir, a node config's
// dirs): HOST is made absolute, GUEST must be absolute and is cleaned,
// access defaults to rw. Errors wrap api.ErrInvalid.
func ParseDir(s string) (Dir, error) {
	d, err := capability.ParseDirFlag(s)
	if err != nil {
		return Dir{}, err
	}
	return Dir{Host: d.Host, Guest: d.Guest, ReadOnly: d.ReadOnly}, nil
}

// internal converts g to the capability package's grant.
func (g Grant) internal() capability.Grant {
	c := capability.Grant{Env: g.Env, Args: g.Args, Stdin: g.Stdin, Stdout: g.Stdout, Stderr: g.Stderr,
		Clock: g.Clock, Random: g.Random, Network: g.Network, Calls: g.Calls,
		Display: capability.Size{Width: g.Display.Width, Height: g.Display.Height}, Input: g.Input, Devices: g.Devices,
		Limits: capability.Limits{MemoryPages: g.Limits.MemoryPages, Deadline: g.Limits.Deadline, OpenFiles: g.Limits.OpenFiles}}
	for _, d := range g.Dirs {
		c.Dirs = append(c.Dirs, capability.Dir{Host: d.Host, Guest: d.Guest, ReadOnly: d.ReadOnly})
	}
	return c
}
