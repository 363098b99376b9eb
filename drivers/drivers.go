// Package drivers is what a device driver is written against, and the
// registry of the drivers compiled into the binary.
//
// A driver is native code that shows up as a module named for its device
// (see orbital.AttachDriver): it has a manifest (kind = "driver", its
// [exports], the host resources it needs), publishes on the subjects
// DEVICE and DEVICE.> and serves calls of its exports. It is written once,
// against Host, and runs either way:
//
//   - in-process: a Go package under drivers/ registers itself by name in
//     an init function (Register, Caddy-style) and the node config enables
//     it with driver = "NAME";
//   - out-of-process: any program that speaks the wire protocol
//     (drivers/wire, docs/DRIVERS.md) on the Unix socket the node hands it;
//     a Go program calls proc.Main with its Driver.
//
// The node supervises both: a driver that fails (returns an error, panics,
// crashes, hangs, floods or speaks garbage) is contained, counted and
// restarted; it never takes the kernel down.
package drivers

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Driver is a device driver's code.
type Driver interface {
	// Run drives the device until ctx ends (then it returns nil or
	// ctx's error) or the driver fails (it returns why; the node
	// restarts it). Calls reach the functions Run registers with
	// Host.Handle.
	Run(ctx context.Context, h Host) error
}

// Func serves one call of an exported function: args are the caller's
// bytes (read-only, valid during the call); ctx ends at the call's
// deadline.
type Func func(ctx context.Context, args []byte) ([]byte, error)

// Host is the node as a driver sees it, the same in-process and out of
// process. Its methods are safe for concurrent use.
type Host interface {
	// Device is the device's name: the first token of every subject the
	// driver publishes on.
	Device() string
	// Config is the driver's configuration from the node config, a JSON
	// object ("{}" when none).
	Config() []byte
	// Resources are the host paths the driver was granted.
	Resources() []string
	// Publish publishes data on subject (DEVICE or DEVICE.…).
	Publish(subject string, data []byte) error
	// PublishFrame publishes a small header with a large payload (a
	// frame) that receivers get as a blob: in-process without a copy.
	// Do not modify frame afterwards.
	PublishFrame(subject string, header, frame []byte) error
	// Handle serves calls of fn, one of the manifest's [exports]; until
	// a handler is set, calls of fn fail.
	Handle(fn string, f Func)
	// Logger logs as the driver.
	Logger() *slog.Logger
}

// Info describes a driver compiled into the binary.
type Info struct {
	// Name is what the node config's driver = "NAME" names.
	Name string
	// Manifest is the driver's orbital.toml (kind = "driver").
	Manifest []byte
	// New returns a fresh instance for each start.
	New func() Driver
}

var (
	mu       sync.RWMutex
	registry = map[string]Info{}
)

// Register adds an in-process driver; it is meant for init functions and
// panics on a duplicate or incomplete Info.
func Register(info Info) {
	mu.Lock()
	defer mu.Unlock()
	if info.Name == "" || info.New == nil || len(info.Manifest) == 0 {
		panic(fmt.Sprintf("drivers: Register(%q): Name, Manifest and New are required", info.Name))
	}
	if _, dup := registry[info.Name]; dup {
		panic(fmt.Sprintf("drivers: Register(%q): registered twice", info.Name))
	}
	registry[info.Name] = info
}

// Lookup returns the in-process driver registered as name.
func Lookup(name string) (Info, bool) {
	mu.RLock()
	defer mu.RUnlock()
	info, ok := registry[name]
	return info, ok
}

// List returns every registered driver, sorted by name.
func List() []Info {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Info, 0, len(registry))
	for _, i := range registry {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}
