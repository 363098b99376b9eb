package process

import (
	"errors"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

func newPort(t *testing.T, b *bus.Bus, store *bus.BlobStore, name string, id uint64, perms bus.Permissions) *Port {
	t.Helper()
	mb := bus.NewMailbox(bus.MailboxConfig{Capacity: 8})
	ep, err := b.Register(name, id, perms, mb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Unregister(ep) })
	return NewPort(ep, mb, store, bus.NewQuota(1<<20))
}

func TestPortNextKeepsTheMessageUntilTaken(t *testing.T) {
	b, store := bus.New(bus.Options{}), bus.NewBlobStore()
	rx := newPort(t, b, store, "rx", 1, bus.Permissions{Subscribe: bus.Rules{Allow: []string{"demo.>"}}})
	tx := newPort(t, b, store, "tx", 2, bus.Permissions{Publish: bus.Rules{Allow: []string{"demo.>"}}, SendTo: []string{"rx"}})
	if _, err := rx.Subscribe("demo.*", ""); err != nil {
		t.Fatal(err)
	}
	// Nothing queued: a poll returns at once, a timeout expires.
	if _, ok, err := rx.Next(0, nil); ok || err != nil {
		t.Fatalf("poll on empty mailbox: ok=%v err=%v", ok, err)
	}
	if _, ok, err := rx.Next(10*time.Millisecond, nil); ok || err != nil {
		t.Fatalf("timeout on empty mailbox: ok=%v err=%v", ok, err)
	}
	if err := tx.Publish("demo.a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Send("rx", []byte("two")); err != nil {
		t.Fatal(err)
	}
	env, ok, err := rx.Next(-1, nil)
	if !ok || err != nil || env.Subject != "demo.a" || string(env.Data) != "one" || env.Kind != engine.KindPublish || env.From != "tx" {
		t.Fatalf("first: %+v ok=%v err=%v", env, ok, err)
	}
	// Not taken yet: the same message again (a guest whose buffer was too small retries).
	if again, _ := rx.Pending(); again.Subject != "demo.a" {
		t.Fatalf("pending after Next = %+v", again)
	}
	rx.Take()
	env, _, _ = rx.Next(-1, nil)
	if env.Kind != engine.KindSend || string(env.Data) != "two" {
		t.Fatalf("second: %+v", env)
	}
	rx.Take()
	// Denied publish and unknown unsubscribe are classified errors.
	if err := rx.Publish("demo.a", nil); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("publish without permission: %v", err)
	}
	if err := rx.Unsubscribe(99); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unsubscribe unknown: %v", err)
	}
}

func TestPortBlobsAndClose(t *testing.T) {
	b, store := bus.New(bus.Options{}), bus.NewBlobStore()
	rx := newPort(t, b, store, "rx", 1, bus.Permissions{Subscribe: bus.Rules{Allow: []string{"blob"}}})
	tx := newPort(t, b, store, "tx", 2, bus.Permissions{Publish: bus.Rules{Allow: []string{"blob"}}})
	if _, err := rx.Subscribe("blob", ""); err != nil {
		t.Fatal(err)
	}
	id, err := tx.BlobCreate([]byte("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.BlobPublish("blob", id); err != nil {
		t.Fatal(err)
	}
	env, ok, _ := rx.Next(-1, nil)
	if !ok || env.Blob != id {
		t.Fatalf("envelope blob = %d, want %d", env.Blob, id)
	}
	rx.Take()
	buf := make([]byte, 4)
	if n, err := rx.BlobRead(id, 6, buf); n != 4 || err != nil || string(buf) != "6789" {
		t.Fatalf("blob read: %d %v %q", n, err, buf)
	}
	if n, _ := rx.BlobLen(id); n != 10 {
		t.Fatalf("blob len %d", n)
	}
	if err := tx.BlobRelease(id); err != nil {
		t.Fatal(err)
	}
	if count, _ := store.Stats(); count != 1 {
		t.Fatalf("blob freed while rx still holds it (count %d)", count)
	}
	// Closing the port releases what it holds, ends its subscriptions and
	// makes a waiting Next return ErrClosed.
	done := make(chan error, 1)
	go func() { _, _, err := rx.Next(-1, nil); done <- err }()
	rx.Close()
	select {
	case err := <-done:
		if !errors.Is(err, api.ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if count, bytes := store.Stats(); count != 0 || bytes != 0 {
		t.Fatalf("after Close: %d blobs, %d bytes", count, bytes)
	}
	if _, err := rx.BlobLen(id); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("blob after Close: %v", err)
	}
}
