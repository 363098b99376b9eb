package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/orbitalfoundation/orbital/api"
)

const screenshotUsage = `Usage: orbital screenshot [--window NAME] OUT.png

Saves a PNG of the running node's screen (every window, composited) or,
with --window, of one window's last presented frame. Works headless: the
node's compositor runs whether or not a display shows it.

Flags:
`

func cmdScreenshot(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var window string
	c, pos, code := ctlCommand("screenshot", screenshotUsage, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.StringVar(&window, "window", "", "one window (a process name) instead of the whole screen")
		})
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital screenshot: want one output file (OUT.png)")
		return exitUsage
	}
	png, err := c.Screenshot(context.Background(), window)
	if err != nil {
		fmt.Fprintf(stderr, "orbital screenshot: %v\n", err)
		return codeFor(err)
	}
	if err := os.WriteFile(pos[0], png, 0o644); err != nil {
		fmt.Fprintf(stderr, "orbital screenshot: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", pos[0], len(png))
	return exitOK
}

const windowsUsage = `Usage: orbital windows [--json]
       orbital windows NAME [--x N] [--y N] [--width N] [--height N] [--z N]
                            [--opacity F] [--show|--hide] [--raise] [--focus]

Lists the windows on the running node's screen (back to front), or
changes one: position, size (the surface is scaled), layer, opacity,
visibility, stacking and focus.

Flags:
`

func cmdWindows(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var asJSON, show, hide, raise, focus bool
	ints := map[string]*int{}
	var opacity float64 = -1
	c, pos, code := ctlCommand("windows", windowsUsage, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		for _, n := range []string{"x", "y", "width", "height", "z"} {
			ints[n] = fs.Int(n, -1<<31, "set the window's "+n)
		}
		fs.Float64Var(&opacity, "opacity", -1, "set the opacity, 0 to 1")
		fs.BoolVar(&show, "show", false, "show the window")
		fs.BoolVar(&hide, "hide", false, "hide the window")
		fs.BoolVar(&raise, "raise", false, "raise it to the top of its layer")
		fs.BoolVar(&focus, "focus", false, "give it the input focus (and raise it)")
	})
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	if len(pos) == 0 {
		info, err := c.Screen(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "orbital windows: %v\n", err)
			return codeFor(err)
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(info)
			return exitOK
		}
		fmt.Fprintf(stdout, "screen %dx%d at %d fps, %d frames, displays: %v\n", info.Width, info.Height, info.FPS, info.Frames, info.Displays)
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tPOSITION\tSIZE\tSURFACE\tZ\tOPACITY\tVISIBLE\tFOCUS\tINPUT\tFRAMES")
		for _, win := range info.Windows {
			f := ""
			if win.Focused {
				f = "*"
			}
			fmt.Fprintf(w, "%s\t%d,%d\t%dx%d\t%dx%d\t%d\t%.2f\t%v\t%s\t%v\t%d\n", win.Name, win.X, win.Y, win.Width, win.Height,
				win.SurfaceWidth, win.SurfaceHeight, win.Z, win.Opacity, win.Visible, f, win.Input, win.Presents)
		}
		_ = w.Flush()
		return exitOK
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital windows: one window at a time")
		return exitUsage
	}
	op := api.WindowOp{Window: pos[0], Raise: raise, Focus: focus}
	for n, v := range ints {
		if *v == -1<<31 {
			continue
		}
		v := *v
		switch n {
		case "x":
			op.X = &v
		case "y":
			op.Y = &v
		case "width":
			op.Width = &v
		case "height":
			op.Height = &v
		case "z":
			op.Z = &v
		}
	}
	if opacity >= 0 {
		op.Opacity = &opacity
	}
	if show || hide {
		v := show
		op.Visible = &v
	}
	if err := c.Window(ctx, op); err != nil {
		fmt.Fprintf(stderr, "orbital windows: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}
