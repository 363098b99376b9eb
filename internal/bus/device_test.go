package bus

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestDevices(t *testing.T) {
	b, log := newTestBus(t, Options{})
	open := Permissions{Publish: Rules{Allow: []string{">"}}, Subscribe: Rules{Allow: []string{">"}}}
	drv := register(t, b, "camera", 1, open, MailboxConfig{})
	if err := b.Own("camera", drv); err != nil {
		t.Fatal(err)
	}
	granted := open
	granted.Devices = []string{"camera"}
	app := register(t, b, "app", 2, granted, MailboxConfig{})
	other := register(t, b, "other", 3, open, MailboxConfig{})
	op := register(t, b, "orbital", 4, AllowAll, MailboxConfig{})

	// Subscriptions: the granted app and the operator may; the other is
	// refused a device pattern and its wildcard never gets device subjects.
	subscribe(t, app, "camera.*.frames", "")
	subscribe(t, op, "camera.>", "")
	if _, err := other.Subscribe("camera.>", ""); !errors.Is(err, ErrDenied) {
		t.Fatalf("other subscribe camera.>: %v, want ErrDenied", err)
	}
	subscribe(t, other, ">", "")
	subscribe(t, app, ">", "")

	publish(t, drv, "camera.front.frames", "f1")
	publish(t, drv, "camera.front.gap", "g")
	publish(t, other, "notcamera.x", "n")
	got := func(e *Endpoint) []string {
		var s []string
		for _, m := range drain(e.Mailbox()) {
			s = append(s, m.Subject)
		}
		return s
	}
	if g := got(app); !slices.Equal(g, []string{"camera.front.frames", "camera.front.frames", "camera.front.gap", "notcamera.x"}) {
		t.Errorf("app got %q", g)
	}
	if g := got(other); !slices.Equal(g, []string{"notcamera.x"}) {
		t.Errorf("other got %q (device subjects leaked through a wildcard)", g)
	}
	if g := got(op); !slices.Equal(g, []string{"camera.front.frames", "camera.front.gap"}) {
		t.Errorf("operator got %q", g)
	}

	// Only the driver publishes there; a holder may send requests.
	for _, e := range []*Endpoint{app, other, op} {
		if err := e.Publish("camera.front.frames", Message{Data: []byte("fake")}); !errors.Is(err, ErrDenied) {
			t.Errorf("%s publish into the device: %v, want ErrDenied", e.Name(), err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := other.Request(ctx, "camera.front.snapshot", nil); !errors.Is(err, ErrDenied) {
		t.Errorf("other request: %v, want ErrDenied", err)
	}
	if _, err := app.Request(ctx, "camera.front.snapshot", nil); errors.Is(err, ErrDenied) {
		t.Errorf("app request: %v, want it routed (no responder)", err)
	}
	if n := len(log.of(EventDenied)); n < 5 {
		t.Errorf("%d denials reported, want at least 5", n)
	}

	// A second owner is refused; after Disown the subjects are ordinary.
	if err := b.Own("camera", other); !errors.Is(err, ErrExists) {
		t.Errorf("second Own: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "a.b", "$sys", "*", ">", "_inbox"} {
		if err := b.Own(bad, drv); !errors.Is(err, ErrInvalid) {
			t.Errorf("Own(%q): %v, want ErrInvalid", bad, err)
		}
	}
	b.Disown("camera", drv)
	publish(t, other, "camera.front.frames", "free")
	if g := got(other); !slices.Equal(g, []string{"camera.front.frames"}) {
		t.Errorf("after Disown other got %q", g)
	}
}
