package orbital_test

// These examples are complete module bodies: build them into a module with
// GOOS=wasip1 GOARCH=wasm and run it under the kernel. They have no
// "Output:" lines because they need a running bus; `go test` compiles them
// on every platform.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

// A service that answers every request with the data it was sent. The
// module's orbital.toml lists the subject under [bus] listen, so the kernel
// subscribes it before main runs.
func ExampleServe() {
	err := orbital.Serve(func(m orbital.Message) {
		if m.Blob != 0 {
			m.Blob.Release() // we hold a reference even if we ignore it
		}
		if m.Kind == orbital.KindRequest {
			if err := m.Respond(m.Data); err != nil {
				orbital.Log(orbital.LevelWarn, "reply: "+err.Error())
			}
		}
	})
	if err != nil { // ErrDenied: not connected to the bus
		orbital.Log(orbital.LevelError, err.Error())
	}
}

// Recv with a timeout is also the module's timer: this publishes a tick
// every 500 ms without needing the clock capability, and stops when the
// kernel says so.
func ExampleRecv() {
	for n := 1; ; {
		m, ok, err := orbital.Recv(500 * time.Millisecond)
		if errors.Is(err, orbital.ErrClosed) {
			return
		}
		if err != nil {
			orbital.Log(orbital.LevelError, err.Error())
			return
		}
		if ok { // a message, not the timeout: not a tick
			if m.Blob != 0 {
				m.Blob.Release()
			}
			continue
		}
		if err := orbital.Publish("demo.tick", []byte("tick "+strconv.Itoa(n))); err != nil {
			orbital.Log(orbital.LevelWarn, err.Error())
		}
		n++
	}
}

func ExamplePublish() {
	err := orbital.Publish("sensors.kitchen.temp", []byte(`{"celsius":21.5}`))
	if errors.Is(err, orbital.ErrDenied) {
		orbital.Log(orbital.LevelError, "orbital.toml does not allow publishing sensors.kitchen.temp")
	}
}

func ExampleSubscribe() {
	sub, err := orbital.Subscribe("sensors.*.temp")
	if err != nil {
		orbital.Log(orbital.LevelError, "subscribe: "+err.Error())
		return
	}
	defer sub.Unsubscribe()
	for i := 0; i < 10; i++ {
		m, ok, err := orbital.Recv(time.Second)
		if err != nil {
			return // ErrClosed: stop
		}
		if ok {
			orbital.Logf(orbital.LevelInfo, "%s from %s: %s", m.Subject, m.From, m.Data)
		}
	}
}

// Workers in one queue group share the messages of a subject.
func ExampleQueueSubscribe() {
	if _, err := orbital.QueueSubscribe("jobs.resize", "resizers"); err != nil {
		orbital.Log(orbital.LevelError, err.Error())
		return
	}
	orbital.Serve(func(m orbital.Message) {
		orbital.Logf(orbital.LevelInfo, "job of %d bytes", len(m.Data))
	})
}

func ExampleRequest() {
	reply, err := orbital.Request("demo.stats", nil, 2*time.Second)
	switch {
	case errors.Is(err, orbital.ErrNotFound):
		orbital.Log(orbital.LevelWarn, "no stats service is running")
	case errors.Is(err, orbital.ErrTimeout):
		orbital.Log(orbital.LevelWarn, "the stats service did not answer in time")
	case err != nil:
		orbital.Log(orbital.LevelError, err.Error())
	default:
		var counts map[string]int
		if err := json.Unmarshal(reply, &counts); err == nil {
			orbital.Logf(orbital.LevelInfo, "demo.tick seen %d times", counts["demo.tick"])
		}
	}
}

func ExampleSend() {
	if err := orbital.Send("pong", []byte("ping")); errors.Is(err, orbital.ErrNotFound) {
		orbital.Log(orbital.LevelWarn, "no process named pong")
	}
}

// A large buffer goes on the bus by handle: subscribers read what they need.
func ExampleNewBlob() {
	frame := make([]byte, 4<<20)
	b, err := orbital.NewBlob(frame)
	if err != nil {
		orbital.Log(orbital.LevelError, err.Error()) // ErrLimit: over the memory quota
		return
	}
	defer b.Release() // our reference; subscribers hold their own
	if err := b.Publish("camera.frames"); err != nil {
		orbital.Log(orbital.LevelError, err.Error())
	}
}

func ExampleBlob_ReadAt() {
	orbital.Serve(func(m orbital.Message) {
		if m.Blob == 0 {
			return
		}
		defer m.Blob.Release()
		size, err := m.Blob.Len()
		if err != nil {
			return
		}
		var head [16]byte
		n, err := m.Blob.ReadAt(head[:], 0)
		if err != nil && err != io.EOF {
			return
		}
		orbital.Log(orbital.LevelInfo, fmt.Sprintf("blob of %d bytes starts % x", size, head[:n]))
	})
}

func ExampleMessage_Respond() {
	orbital.Serve(func(m orbital.Message) {
		if m.Kind != orbital.KindRequest {
			return
		}
		if err := m.Respond([]byte(strconv.Itoa(len(m.Data)))); errors.Is(err, orbital.ErrNotFound) {
			orbital.Log(orbital.LevelDebug, "the requester gave up waiting")
		}
	})
}

// Keep a message past the next Recv with Clone.
func ExampleMessage_Clone() {
	var last orbital.Message
	orbital.Serve(func(m orbital.Message) {
		last = m.Clone()
	})
	orbital.Logf(orbital.LevelInfo, "last message: %s %q", last.Subject, last.Data)
}
