package bus

import (
	"fmt"
	"strings"
)

// Devices: a driver owns the subject space of its device ("camera.>" for
// the device "camera"). Only the owning endpoint publishes there; an
// endpoint whose Permissions list the device (or set AllDevices) may
// subscribe to it and send requests into it; every other endpoint is
// refused (ErrDenied, counted) and never receives its messages, not even
// through a wildcard subscription such as ">" — the rule that keeps "$"
// subjects out of wildcards, applied per device.

// devices maps a device root token to its owning endpoint. Replaced, never
// modified, under Bus.mu; read lock-free.
type devices map[string]*Endpoint

// Own makes e the owner of the device root: subjects root and root.>.
// root is a single subject token. It fails with ErrExists when another
// endpoint owns it and ErrInvalid for a bad root. Cached routes are
// rebuilt, so subscribers without the device stop receiving at once.
func (b *Bus) Own(root string, e *Endpoint) error {
	if err := ValidSubject(root); err != nil || strings.ContainsAny(root, ".$") || root == InboxPrefix[:len(InboxPrefix)-1] {
		return fmt.Errorf("%w device root %q: want one subject token, not reserved", ErrInvalid, root)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.devs()
	if o := old[root]; o != nil && o != e && !o.closed.Load() {
		return fmt.Errorf("%w: device %q is owned by %q", ErrExists, root, o.name)
	}
	next := make(devices, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[root] = e
	b.devMap.Store(&next)
	b.gen.Add(1)
	return nil
}

// Disown releases root if e owns it.
func (b *Bus) Disown(root string, e *Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.devs()
	if old[root] != e {
		return
	}
	next := make(devices, len(old))
	for k, v := range old {
		if k != root {
			next[k] = v
		}
	}
	b.devMap.Store(&next)
	b.gen.Add(1)
}

func (b *Bus) devs() devices {
	if p := b.devMap.Load(); p != nil {
		return *p
	}
	return nil
}

// device returns the device owning subject (or pattern) s and its owner,
// or "" when s is not under a device root.
func (b *Bus) device(s string) (string, *Endpoint) {
	d := b.devs()
	if len(d) == 0 {
		return "", nil
	}
	tok, _, _ := cut(s)
	if o, ok := d[tok]; ok {
		return tok, o
	}
	return "", nil
}

// holds reports whether e may receive from and request into device dev.
func (e *Endpoint) holds(dev string, owner *Endpoint) bool {
	if e == owner || e.perms.AllDevices {
		return true
	}
	for _, d := range e.perms.Devices {
		if d == dev {
			return true
		}
	}
	return false
}

// deviceCheck applies the device rules to publishing (op "publish" or
// "request") to subject; nil when subject is under no device.
func (e *Endpoint) deviceCheck(subject, op string) error {
	dev, owner := e.bus.device(subject)
	switch {
	case dev == "" || e == owner:
		return nil
	case op == "request" && e.holds(dev, owner):
		return nil
	case e.holds(dev, owner):
		return fmt.Errorf("%w: %q may not %s to %q: only the driver of device %q publishes there", ErrDenied, e.name, op, subject, dev)
	default:
		return fmt.Errorf("%w: %q may not %s to %q: device %q not granted (devices = [%q] in its manifest and its node config)", ErrDenied, e.name, op, subject, dev, dev)
	}
}

// deviceSubscribeCheck refuses a subscription to a device's subjects by
// an endpoint that does not hold the device. Wildcard first tokens are
// accepted: the route filter keeps the device's messages from them.
func (e *Endpoint) deviceSubscribeCheck(pattern string) error {
	dev, owner := e.bus.device(pattern)
	if dev == "" || e.holds(dev, owner) {
		return nil
	}
	return fmt.Errorf("%w: %q may not subscribe to %q: device %q not granted (devices = [%q] in its manifest and its node config)", ErrDenied, e.name, pattern, dev, dev)
}
