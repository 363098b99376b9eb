// Package display defines what a screen is shown on and what input comes
// back from it. The compositor (package compositor) composites the
// windows of the processes granted `display` into one frame and hands it,
// with the rectangles that changed, to every attached Display: the admin
// panel's browser view, a native X11 window (display/x11), the Linux
// framebuffer (display/fbdev), or nothing at all (headless: PNG snapshots).
//
// A Display that has input (a browser canvas, an X11 window) reports it
// through the Sink it was given; the compositor routes each event to the
// focused window's module.
package display

import "image"

// Frame is a read-only view of a composited screen: W×H pixels of
// premultiplied RGBA8, row y at Pix[y*Stride:]. It is valid only during
// the Show call that receives it: a display that keeps pixels copies them.
type Frame struct {
	Pix    []byte
	Stride int
	W, H   int
}

// At returns the premultiplied RGBA bytes of pixel (x, y).
func (f Frame) At(x, y int) [4]byte {
	o := y*f.Stride + 4*x
	return [4]byte{f.Pix[o], f.Pix[o+1], f.Pix[o+2], f.Pix[o+3]}
}

// Input kinds.
const (
	Pointer = "pointer" // a mouse or pen: Action down/up/move/wheel, X, Y, Button, Buttons
	Key     = "key"     // a keyboard: Action down/up, Key, Code, Mods
	Touch   = "touch"   // a touch point: Action down/up/move, X, Y, ID
)

// Modifier bits of Event.Mods.
const (
	ModShift = 1 << iota
	ModCtrl
	ModAlt
	ModMeta
)

// Event is one input event in screen coordinates (pixels from the
// top-left of the screen). The compositor translates X and Y into the
// receiving window's surface coordinates before delivering it.
type Event struct {
	Kind    string `json:"type"`             // Pointer, Key or Touch
	Action  string `json:"action"`           // "down", "up", "move", "wheel"
	X       int    `json:"x,omitempty"`      // pointer and touch
	Y       int    `json:"y,omitempty"`      //
	Button  int    `json:"button,omitempty"` // pointer: 1 left, 2 middle, 3 right (down/up)
	Buttons int    `json:"buttons,omitempty"`
	DX      int    `json:"dx,omitempty"`     // wheel
	DY      int    `json:"dy,omitempty"`     //
	Key     string `json:"key,omitempty"`    // key: a printable character or a name ("Enter", "ArrowLeft")
	Code    int    `json:"code,omitempty"`   // key: the display's key code
	Mods    int    `json:"mods,omitempty"`   // key and pointer: Mod* bits
	ID      int    `json:"id,omitempty"`     // touch point
	Window  string `json:"window,omitempty"` // set by the compositor: the receiving window
}

// Sink receives input events from a display. It must not block: the
// compositor queues and drops when its queue is full.
type Sink func(Event)

// Display shows composited frames.
type Display interface {
	// Name identifies the display in logs and stats ("x11", "fbdev").
	Name() string
	// Show presents the frame; dirty lists the rectangles that changed
	// since the previous Show (the whole frame the first time and after a
	// resize). It is called from the compositor's goroutine, one call at a
	// time: it must copy what it keeps and not block for long.
	Show(f Frame, dirty []image.Rectangle) error
	// Close releases the display. Show is not called after Close.
	Close() error
}
