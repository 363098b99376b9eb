package orbital_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/testwait"
)

// TestConn: host connections on the public bus API — names are unique and
// freed by Close, only a Relay connection forwards with the reply subject
// kept, blobs cross without a copy and are freed by their last reader,
// system subjects are the host's alone, and bad options are refused.
func TestConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k := newKernel(t)
	a, err := k.Connect("a", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Connect("a", orbital.ConnOptions{}); !errors.Is(err, api.ErrExists) {
		t.Fatalf("a second connection named a: %v", err)
	}
	b, err := k.Connect("b", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// Forward keeps subject and reply only for a relay.
	if err := a.Forward("b", orbital.Message{Subject: "x", Reply: "_inbox.fake.1", Data: []byte("d")}); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("forward without Relay: %v", err)
	}
	a.Close()
	if _, err := k.Connect("a", orbital.ConnOptions{}); err != nil {
		t.Fatalf("the name is not free after Close: %v", err)
	}
	relay, err := k.Connect("relay", orbital.ConnOptions{Relay: true})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	if _, err := b.Subscribe("svc.echo", ""); err != nil {
		t.Fatal(err)
	}
	go func() { // b answers every request it gets, relayed or not
		for {
			m, err := b.Recv(ctx)
			if err != nil {
				return
			}
			if m.Reply != "" {
				_ = b.Reply(m, m.Data)
			}
		}
	}()
	if _, err := relay.Subscribe("jobs.>", ""); err != nil {
		t.Fatal(err)
	}
	client, err := k.Connect("client", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	go func() { // the relay hands every job to b, keeping the reply subject
		m, err := relay.Recv(ctx)
		if err == nil {
			_ = relay.Forward("b", m)
		}
	}()
	reply, err := client.Request(ctx, "jobs.one", []byte("relayed"))
	if err != nil || string(reply.Data) != "relayed" {
		t.Fatalf("relayed request: %q %v", reply.Data, err)
	}

	// Blobs.
	reader, err := k.Connect("reader", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.Subscribe("big", ""); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if err := client.PublishBlob("big", data); err != nil {
		t.Fatal(err)
	}
	m, err := reader.Recv(ctx)
	if err != nil || !bytes.Equal(m.Blob, data) || len(m.Data) != 0 {
		t.Fatalf("blob: %d bytes, err %v", len(m.Blob), err)
	}
	testwait.For(t, 10*time.Second, "blob freed", func() bool { n, size := k.Blobs(); return n == 0 && size == 0 })

	// System subjects.
	if err := client.Publish("$sys.process.x.crashed", nil); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("a connection published on $sys: %v", err)
	}
	if err := k.PublishEvent("demo.x", nil); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("PublishEvent outside $sys: %v", err)
	}
	if _, err := reader.Subscribe("$sys.>", ""); err != nil {
		t.Fatal(err)
	}
	if err := k.PublishEvent("$sys.process.x.crashed", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if m, err := reader.Recv(ctx); err != nil || m.Subject != "$sys.process.x.crashed" {
		t.Fatalf("event: %+v %v", m, err)
	}

	// Options.
	if _, err := k.Connect("odd", orbital.ConnOptions{Overflow: "sometimes"}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("unknown overflow policy: %v", err)
	}
	if _, err := k.Connect("bad name", orbital.ConnOptions{}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	// A closed connection's Recv ends.
	reader.Close()
	if _, err := reader.Recv(ctx); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Connect("late", orbital.ConnOptions{}); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
}
