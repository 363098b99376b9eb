package orbital

import (
	"fmt"
	"sort"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// A device driver is native code (Go in this process, or a program in
// another one) that shows up as a module named for its device: its
// functions are a library of that name, and it alone publishes on the
// subjects NAME and NAME.>. Modules reach it only when granted the device
// (devices = ["NAME"] in their manifest and their node config): a call to
// it or a subscription to its subjects without the grant is refused and
// counted, and its messages never reach them through wildcards either.

// DriverSpec describes a driver to AttachDriver.
type DriverSpec struct {
	// Name is the device's name: one subject token ("camera"), the
	// library name of its functions and the root of its subjects.
	Name    string
	Version string
	// Exports are its functions; callers need the device grant, not a
	// [dependencies] entry.
	Exports []NativeExport
	// Subscribe are the patterns the driver's connection may subscribe
	// to (nil: none).
	Subscribe []string
	// BlobBytes bounds the bytes of the blobs (frames) the driver has
	// published that are still held by someone; 0 means 64 MiB. A
	// driver whose consumers lag cannot fill the host's memory.
	BlobBytes int64
}

// Driver is a driver attached to the kernel.
type Driver struct {
	k     *Kernel
	name  string
	lib   *Library
	conn  *Conn
	quota *bus.Quota
}

// DriverEndpoint is the bus name of a driver's connection: "driver:NAME".
func DriverEndpoint(device string) string { return "driver:" + device }

// AttachDriver registers a driver: its device, its library, its bus
// connection. Errors wrap api.ErrInvalid (a bad name, version or export)
// or api.ErrExists (the device or library exists).
func (k *Kernel) AttachDriver(spec DriverSpec) (*Driver, error) {
	if err := manifest.ValidateDeviceName(spec.Name); err != nil {
		return nil, fmt.Errorf("attach driver: %w: %v", api.ErrInvalid, err)
	}
	k.mu.Lock()
	if k.devices == nil {
		k.devices = make(map[string]*Driver)
	}
	if _, dup := k.devices[spec.Name]; dup {
		k.mu.Unlock()
		return nil, fmt.Errorf("attach driver %s: %w: the device has a driver", spec.Name, api.ErrExists)
	}
	k.devices[spec.Name] = nil // reserved while attaching
	k.mu.Unlock()
	d, err := k.attach(spec)
	k.mu.Lock()
	if err != nil {
		delete(k.devices, spec.Name)
	} else {
		k.devices[spec.Name] = d
	}
	k.mu.Unlock()
	return d, err
}

func (k *Kernel) attach(spec DriverSpec) (*Driver, error) {
	sub := spec.Subscribe
	if sub == nil {
		sub = []string{}
	}
	conn, err := k.Connect(DriverEndpoint(spec.Name), ConnOptions{
		Publish: []string{spec.Name, spec.Name + ".>"}, Subscribe: sub, SendTo: []string{"*"}, Mailbox: 4096,
	})
	if err != nil {
		return nil, fmt.Errorf("attach driver %s: %w", spec.Name, err)
	}
	if err := k.bus.Own(spec.Name, conn.ep); err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach driver %s: %w", spec.Name, err)
	}
	lib, err := k.ProvideNative(spec.Name, spec.Version, spec.Exports)
	if err != nil {
		k.bus.Disown(spec.Name, conn.ep)
		conn.Close()
		return nil, fmt.Errorf("attach driver %s: %w", spec.Name, err)
	}
	max := spec.BlobBytes
	if max <= 0 {
		max = 64 << 20
	}
	return &Driver{k: k, name: spec.Name, lib: lib, conn: conn, quota: bus.NewQuota(max)}, nil
}

// Name returns the device's name.
func (d *Driver) Name() string { return d.name }

// Conn is the driver's bus connection: it publishes on NAME.>.
func (d *Driver) Conn() *Conn { return d.conn }

// Library is the driver's functions as a library.
func (d *Driver) Library() *Library { return d.lib }

// PublishFrame publishes data (a small header) with blob as one message
// on subject, the blob handed over without a copy: do not modify it
// afterwards. The blob counts against the driver's BlobBytes until the
// last receiver releases it; beyond that the frame is refused with an
// error wrapping api.ErrLimit and nothing is published.
func (d *Driver) PublishFrame(subject string, data, blob []byte) error {
	b, err := d.k.blobs.New(d.conn.ep.Name(), blob, d.quota)
	if err != nil {
		return err
	}
	defer func() { _ = b.Release() }()
	return d.conn.ep.Publish(subject, bus.Message{Data: data, Blob: b})
}

// BlobBytes reports the bytes of the driver's published blobs still held.
func (d *Driver) BlobBytes() int64 { return d.quota.Used() }

// Detach removes the driver: its library, its connection, its device.
func (d *Driver) Detach() {
	d.k.libs.Remove(d.lib.lib)
	d.k.bus.Disown(d.name, d.conn.ep)
	d.conn.Close()
	d.k.mu.Lock()
	if d.k.devices[d.name] == d {
		delete(d.k.devices, d.name)
	}
	d.k.mu.Unlock()
}

// Devices lists the devices that have a driver, sorted.
func (k *Kernel) Devices() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.devices))
	for n := range k.devices {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// isDevice reports whether lib is a device's library.
func (k *Kernel) isDevice(lib string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.devices[lib]
	return ok
}

// deviceError is the refusal of a call to a device not granted.
type deviceError struct{ msg string }

func (e *deviceError) Error() string { return e.msg }
func (e *deviceError) Unwrap() []error {
	return []error{api.ErrPermissionDenied, capability.ErrNotGranted}
}

// callDevice checks a call to device lib by a process with caps.
func callDevice(caps capability.Set, lib, fn string) error {
	for _, d := range caps.Devices {
		if d == lib {
			return nil
		}
	}
	return &deviceError{fmt.Sprintf("%s.%s: device %q not granted (devices = [%q] in the caller's manifest and in its node config)", lib, fn, lib, lib)}
}
