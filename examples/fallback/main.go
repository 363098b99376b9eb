// Command fallback shows graceful degradation around an optional library.
// Every 2 s it makes a greeting ("hello from orbital at 15:04:05", or the
// configured greeting) and asks fancy.format to dress it up. fancy is an
// optional dependency that the demo does not run: when the call fails with
// ErrNotFound, ErrDenied or ErrVersion the module logs once
//
//	fancy unavailable (library fancy: not found), using plain text
//
// and publishes the plain greeting on demo.greeting; if fancy appears
// later it uses it (and says so), and falls back again if it goes. Any
// other failure of fancy (a crash, a timeout, an error of its own) is
// logged and that greeting goes out plain. orbital.Recv with a timeout is
// its timer; it returns when the kernel stops it (ErrClosed).
//
// The node may configure the greeting: config = { greeting = "hi" }.
package main

import (
	"errors"
	"os"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

const (
	subject = "demo.greeting"
	period  = 2 * time.Second
)

func main() {
	os.Exit(run())
}

func run() int {
	greeting := orbital.ConfigString("greeting", "hello from orbital")
	fancy := true // whether fancy was usable last time; assume so until it is not
	for {
		m, ok, err := orbital.Recv(period)
		switch {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case err != nil: // ErrDenied: not connected to the bus
			orbital.Log(orbital.LevelError, "fallback: "+err.Error())
			return 1
		case ok: // a direct send, not the timer
			if m.Blob != 0 {
				m.Blob.Release()
			}
			continue
		}
		text := []byte(greeting + " at " + time.Now().Format("15:04:05"))
		out, err := orbital.Call("fancy", "format", text)
		switch {
		case err == nil:
			if !fancy {
				orbital.Log(orbital.LevelInfo, "fallback: fancy available again")
			}
			fancy = true
			text = out
		case unavailable(err):
			if fancy {
				orbital.Log(orbital.LevelInfo, "fallback: fancy unavailable ("+err.Error()+"), using plain text")
			}
			fancy = false
		default: // fancy is there but failed this time
			orbital.Log(orbital.LevelWarn, "fallback: fancy.format failed ("+err.Error()+"), sending plain text")
		}
		switch err := orbital.Publish(subject, text); {
		case errors.Is(err, orbital.ErrClosed):
			return 0
		case errors.Is(err, orbital.ErrDenied):
			orbital.Log(orbital.LevelError, "fallback: may not publish "+subject+": check [bus] publish")
			return 1
		case err != nil:
			orbital.Log(orbital.LevelWarn, "fallback: "+err.Error())
		}
	}
}

// unavailable reports whether err means there is no usable fancy library:
// none runs, the node does not grant the call, or none has a version in
// range.
func unavailable(err error) bool {
	return errors.Is(err, orbital.ErrNotFound) || errors.Is(err, orbital.ErrDenied) || errors.Is(err, orbital.ErrVersion)
}
