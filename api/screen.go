package api

// WindowInfo is one window on a node's screen (GET /api/v1/windows,
// $wm.list): the process it shows, where, and how.
type WindowInfo struct {
	Name          string  `json:"name"` // the process's name
	PID           uint64  `json:"pid"`
	Module        string  `json:"module"`
	X             int     `json:"x"`
	Y             int     `json:"y"`
	Width         int     `json:"width"`  // on the screen
	Height        int     `json:"height"` //
	SurfaceWidth  int     `json:"surface_width"`
	SurfaceHeight int     `json:"surface_height"`
	Z             int     `json:"z"`     // layer: higher is in front; within a layer, the last raised is
	Order         int     `json:"order"` // stacking position, 0 at the back
	Opacity       float64 `json:"opacity"`
	Visible       bool    `json:"visible"`
	Focused       bool    `json:"focused"`
	Input         bool    `json:"input"` // granted input events
	Depth         bool    `json:"depth"` // composited with its depth buffer
	Presents      uint64  `json:"presents"`
	Bytes         int64   `json:"bytes"` // the process's surface memory
}

// ScreenInfo describes a node's screen.
type ScreenInfo struct {
	Width    int          `json:"width"`
	Height   int          `json:"height"`
	FPS      int          `json:"fps"`
	Frames   uint64       `json:"frames"`   // composites done
	Displays []string     `json:"displays"` // attached displays
	Windows  []WindowInfo `json:"windows"`
	Focus    string       `json:"focus,omitempty"`
}

// WindowOp changes a window (POST /api/v1/windows/NAME, $wm.*): nil
// fields are left alone.
type WindowOp struct {
	Window  string   `json:"window,omitempty"`
	X       *int     `json:"x,omitempty"`
	Y       *int     `json:"y,omitempty"`
	Width   *int     `json:"width,omitempty"`
	Height  *int     `json:"height,omitempty"`
	Z       *int     `json:"z,omitempty"`
	Opacity *float64 `json:"opacity,omitempty"`
	Visible *bool    `json:"visible,omitempty"`
	Raise   bool     `json:"raise,omitempty"`
	Focus   bool     `json:"focus,omitempty"`
}
