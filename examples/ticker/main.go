// Command ticker publishes "tick N" on demo.tick every 500 ms.
//
// It needs no clock capability: orbital.Recv with a timeout is its timer
// (the kernel does the waiting). It subscribes to nothing, so Recv normally
// just times out; a message sent to it directly is dropped without a tick.
// It returns when the kernel stops it (ErrClosed).
package main

import (
	"errors"
	"os"
	"strconv"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

const (
	subject = "demo.tick"
	period  = 500 * time.Millisecond
)

func main() {
	os.Exit(run())
}

func run() int {
	payload := make([]byte, 0, 32) // reused: no allocation per tick
	for n := uint64(1); ; {
		m, ok, err := orbital.Recv(period)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case err != nil: // ErrDenied: not connected to the bus
			orbital.Log(orbital.LevelError, "ticker: "+err.Error())
			return 1
		case ok: // a direct send, not the timer
			if m.Blob != 0 {
				m.Blob.Release()
			}
			continue
		}
		payload = strconv.AppendUint(append(payload[:0], "tick "...), n, 10)
		switch err := orbital.Publish(subject, payload); {
		case err == nil:
			n++
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case errors.Is(err, orbital.ErrDenied):
			orbital.Log(orbital.LevelError, "ticker: may not publish "+subject+": check [bus] publish")
			return 1
		default: // e.g. ErrLimit from a full, blocking subscriber: try again next period
			orbital.Log(orbital.LevelWarn, "ticker: "+err.Error())
		}
	}
}
