package orbital

import (
	"fmt"

	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/raster"
)

// Surfaces are one process's raster surfaces (see docs/ABI.md, "Raster"):
// what a Screen composites. Its window is Surfaces.Window().
type Surfaces = raster.Set

// A Screen shows the windows of processes granted a display — the node's
// compositor. The kernel attaches every such process when it starts and
// detaches it when it ends, before its surfaces are freed.
type Screen interface {
	Attach(w Window) (detach func())
}

// Window is what a Screen is given for one process.
type Window struct {
	Name     string // the process's name (unique among running processes)
	PID      uint64
	Module   string // name@version
	Surfaces *Surfaces
	// Input hands the process an input event: a direct message from the
	// kernel labelled "$sys.input.KIND" carrying data (JSON). It is nil
	// when the process was not granted input.
	Input func(kind string, data []byte) error
}

// WithScreen makes s show the windows of processes granted a display.
// Without a screen such processes still draw (headless); nobody sees it.
func (c Config) WithScreen(s Screen) Config { c.screen = s; return c }

// InputSubject is the label of an input event of kind ("pointer", "key",
// "touch") as the receiving process sees it.
func InputSubject(kind string) string { return bus.SysPrefix + "input." + kind }

// attachScreen shows p's window on the configured screen, if any.
func (k *Kernel) attachScreen(name string, id uint64, module string, set *raster.Set, input bool) (detach func()) {
	if k.cfg.screen == nil || set == nil {
		return func() {}
	}
	w := Window{Name: name, PID: id, Module: module, Surfaces: set}
	if input {
		w.Input = func(kind string, data []byte) error {
			if err := k.bus.SendSys(fmt.Sprintf("#%d", id), bus.Message{Subject: InputSubject(kind), Data: data}); err != nil {
				return fmt.Errorf("input to %s: %w", name, err)
			}
			return nil
		}
	}
	return k.cfg.screen.Attach(w)
}
