package orbital_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// loadPong loads the pong bus service with a manifest of the given [bus]
// table.
func loadPong(t *testing.T, k *orbital.Kernel, busTOML string) *orbital.Module {
	t.Helper()
	wasm, err := os.ReadFile(testwasm.Path(t, "pong"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := orbital.ParseManifest([]byte("name = \"pong\"\nversion = \"1.0.0\"\nkind = \"service\"\n[bus]\n"+busTOML), "pong.orbital.toml")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := k.Load(context.Background(), "pong", wasm, m)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// TestHandover: a process handed over keeps its bus connection for its
// successor — requests sent while neither runs wait in the mailbox and
// are answered by the successor; a successor asking for another bus
// configuration gets a new connection; and the process name is free again
// afterwards.
func TestHandover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := newKernel(t)
	const busTOML = "subscribe = [\"ping\"]\nlisten = [\"ping\"]\nsend = [\"*\"]\n"
	mod := loadPong(t, k, busTOML)
	old, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Name: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	client, err := k.Connect("client", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ask := func(data string) (string, error) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		m, err := client.Request(rctx, "ping", []byte(data))
		return string(m.Data), err
	}
	if got, err := ask("one"); err != nil || got != "one" {
		t.Fatalf("before the hand-over: %q %v", got, err)
	}

	h := old.HandOver(errors.New("upgrade"), 2*time.Second)
	if h == nil {
		t.Fatal("a process with a bus connection gave no hand-over")
	}
	<-old.Done()
	// Nobody runs now: the request queues in the parked mailbox.
	answered := make(chan error, 1)
	go func() {
		got, err := ask("queued")
		if err == nil && got != "queued" {
			err = fmt.Errorf("reply %q", got)
		}
		answered <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the request reach the mailbox (order, not timing, is asserted)
	next, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Name: "pong", Handover: h})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("the request sent between the two was lost: %v", err)
	}
	if next.Info().MsgsIn < 1 {
		t.Fatalf("successor counters: %+v", next.Info())
	}

	// A successor with another bus configuration starts with a new
	// connection (the old one is closed, the name is free).
	h = next.HandOver(errors.New("upgrade"), 2*time.Second)
	<-next.Done()
	other := loadPong(t, k, busTOML+"mailbox = 8\n")
	third, err := k.Spawn(ctx, other, orbital.SpawnOptions{Name: "pong", Handover: h})
	if err != nil {
		t.Fatalf("successor with a changed bus: %v", err)
	}
	if got, err := ask("three"); err != nil || got != "three" {
		t.Fatalf("after a changed bus: %q %v", got, err)
	}
	if in := third.Info().MsgsIn; in != 1 {
		t.Fatalf("the new connection carries %d messages in, want only the new request", in)
	}
	// A hand-over is used once.
	third.Stop(errors.New("done"), time.Second)
	<-third.Done()
	if _, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Name: "pong", Handover: h}); err != nil {
		t.Fatalf("a used hand-over must not block a new process: %v", err)
	}
}

// TestHandoverWithoutBus: a process without a bus connection is simply
// stopped and gives no hand-over; a nil one is a valid option.
func TestHandoverWithoutBus(t *testing.T) {
	ctx := context.Background()
	k := newKernel(t)
	mod, err := k.LoadFile(ctx, testwasm.Path(t, "sleeper"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: orbital.Grant{Clock: true, Stdout: true, Stderr: true}})
	if err != nil {
		t.Fatal(err)
	}
	if h := p.HandOver(errors.New("stop"), time.Second); h != nil {
		t.Fatalf("hand-over of a process without a bus: %v", h)
	}
	info, _ := p.Wait(ctx)
	if !info.State.Done() {
		t.Fatalf("not stopped: %+v", info)
	}
	if _, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: orbital.Grant{Clock: true, Stdout: true, Stderr: true}, Handover: nil}); err != nil {
		t.Fatal(err)
	}
}
