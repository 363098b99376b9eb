package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// slowAfter is how long a compile runs before orbital run says so.
const slowAfter = 300 * time.Millisecond

// slowCompile is orbital run's compile progress: a compile that takes
// longer than slowAfter prints "compiling NAME 2.5MiB…" and then its time;
// quick and cached ones print nothing.
func slowCompile(w io.Writer, quiet bool) func(api.CompileEvent) {
	if quiet {
		return nil
	}
	var (
		mu    sync.Mutex
		timer *time.Timer
		told  bool
		ended bool
	)
	return func(ev api.CompileEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Stage {
		case api.CompileStarted:
			if ev.Cached {
				return
			}
			timer = time.AfterFunc(slowAfter, func() {
				mu.Lock()
				defer mu.Unlock()
				if !ended {
					told = true
					fmt.Fprintf(w, "orbital: compiling %s %s…\n", ev.Module, humanBytes(uint64(ev.Size)))
				}
			})
		case api.CompileDone, api.CompileCached, api.CompileFailed:
			ended = true
			if timer != nil {
				timer.Stop()
			}
			if told && ev.Stage != api.CompileFailed {
				fmt.Fprintf(w, "orbital: compiled %s in %s\n", ev.Module, roundDuration(ev.Elapsed))
			}
		}
	}
}

// compileLines is orbital up's boot progress on a terminal: a line per
// module as its compile starts ("compiling NAME 2.5MiB…") and as it ends
// (compiled in …, cached, failed). Modules compile in parallel, so lines
// of different modules interleave; each line is whole.
func compileLines(w io.Writer) func(api.CompileEvent) {
	var mu sync.Mutex
	return func(ev api.CompileEvent) {
		var line string
		switch ev.Stage {
		case api.CompileStarted:
			if ev.Cached {
				return // its end says "cached"
			}
			line = fmt.Sprintf("compiling %s %s…", ev.Module, humanBytes(uint64(ev.Size)))
		case api.CompileDone:
			line = fmt.Sprintf("compiled %s in %s", ev.Module, roundDuration(ev.Elapsed))
		case api.CompileCached:
			line = fmt.Sprintf("%s %s cached (%s)", ev.Module, humanBytes(uint64(ev.Size)), roundDuration(ev.Elapsed))
		case api.CompileFailed:
			line = fmt.Sprintf("%s failed to compile: %s", ev.Module, ev.Error)
		default:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "orbital: %s\n", line)
	}
}

// roundDuration keeps two or three significant digits: 1.62s, 74ms, 812µs.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// bootSummary says how the boot's compiles went: "3 compiled, 9 cached".
func bootSummary(b api.BootReport) string {
	parts := []string{fmt.Sprintf("%d compiled", b.Compiled), fmt.Sprintf("%d cached", b.Cached)}
	if b.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", b.Failed))
	}
	return strings.Join(parts, ", ")
}
