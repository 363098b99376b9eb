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

// A caller of a library function. The caller's orbital.toml declares the
// library (`[dependencies] vision = "^1.2"`) and the node grants the call
// (`calls = ["vision"]` on its [[process]]).
func ExampleCall() {
	pixels := []byte{255, 0, 0, 255, 0, 255, 0, 255} // two RGBA pixels
	gray, err := orbital.Call("vision", "grayscale", pixels)
	var ce *orbital.CallError
	switch {
	case errors.Is(err, orbital.ErrFailed) && errors.As(err, &ce):
		orbital.Log(orbital.LevelWarn, "vision refused: "+ce.Message)
	case errors.Is(err, orbital.ErrNotFound), errors.Is(err, orbital.ErrVersion):
		orbital.Log(orbital.LevelWarn, "no suitable vision library: "+err.Error())
	case err != nil:
		orbital.Log(orbital.LevelError, err.Error())
	default:
		orbital.Logf(orbital.LevelInfo, "luma % d", gray)
	}
}

// Bind once, call many times: each Call then costs no lookup.
func ExampleBind() {
	gray, err := orbital.Bind("vision", "grayscale")
	if err != nil {
		orbital.Log(orbital.LevelError, err.Error()) // e.g. ErrDenied: not granted
		return
	}
	frame := make([]byte, 64*48*4)
	var luma []byte
	for i := 0; i < 10; i++ {
		// AppendCall reuses luma's memory: no allocation per frame.
		if luma, err = gray.AppendCall(luma[:0], frame); err != nil {
			orbital.Log(orbital.LevelWarn, err.Error())
			continue
		}
		orbital.Logf(orbital.LevelInfo, "%s: %d luma bytes", gray, len(luma))
	}
}

// A call with JSON arguments and result.
func ExampleCallJSON() {
	var stats struct {
		Mean float64 `json:"mean"`
		Min  int     `json:"min"`
		Max  int     `json:"max"`
	}
	frame := make([]byte, 16*16*4)
	raw, err := orbital.Call("vision", "brightness", frame) // bytes in, JSON out
	if err == nil {
		err = json.Unmarshal(raw, &stats)
	}
	if err != nil {
		orbital.Log(orbital.LevelWarn, err.Error())
	}
	// JSON both ways:
	in := map[string]string{"key": "camera.brightness", "value": fmt.Sprint(stats.Mean)}
	var out struct {
		Replaced bool `json:"replaced"`
	}
	if err := orbital.CallJSON("kv", "put", in, &out); err != nil {
		orbital.Log(orbital.LevelWarn, err.Error())
	}
}

// A library: its main registers the functions its orbital.toml declares
// under [exports.NAME] and serves calls until the kernel stops it.
func ExampleExport() {
	orbital.Export("reverse", func(args []byte) ([]byte, error) {
		if len(args) == 0 {
			return nil, errors.New("nothing to reverse") // the caller gets ErrFailed and this text
		}
		out := make([]byte, len(args)) // args is only borrowed: build the result apart
		for i, b := range args {
			out[len(args)-1-i] = b
		}
		return out, nil
	})
	if err := orbital.ServeCalls(); err != nil {
		orbital.Log(orbital.LevelError, err.Error()) // ErrDenied: not run as a library
	}
}

// A stateful library with JSON functions; the manifest declares their
// shapes, e.g.
//
//	[library]
//	stateful = true
//	[exports.add]
//	args = "{n: int}"
//	result = "{total: int}"
func ExampleExportJSON() {
	type addArgs struct {
		N int `json:"n"`
	}
	type total struct {
		Total int `json:"total"`
	}
	sum := 0 // state: the library runs as one instance
	orbital.ExportJSON("add", func(a addArgs) (total, error) {
		sum += a.N
		return total{sum}, nil
	})
	orbital.ExportJSON("reset", func(struct{}) (total, error) {
		sum = 0
		return total{}, nil
	})
	orbital.ServeCalls()
}

// Treat a library that is missing, not granted or of the wrong version as
// optional.
func ExampleCallError() {
	_, err := orbital.Call("fancy", "format", []byte("hello"))
	if errors.Is(err, orbital.ErrNotFound) || errors.Is(err, orbital.ErrDenied) || errors.Is(err, orbital.ErrVersion) {
		var ce *orbital.CallError
		errors.As(err, &ce)
		orbital.Logf(orbital.LevelInfo, "%s.%s unavailable (%s): using plain text", ce.Library, ce.Function, ce.Message)
	}
}

// The node configuration gives a process its settings:
//
//	[[process]]
//	name = "greeter"
//	module = "greeter"
//	config = { greeting = "hi", period_ms = 2000 }
func ExampleConfigString() {
	greeting := orbital.ConfigString("greeting", "hello")
	period, err := strconv.Atoi(orbital.ConfigString("period_ms", "1000"))
	if err != nil {
		orbital.Log(orbital.LevelWarn, "period_ms: "+err.Error())
		period = 1000
	}
	orbital.Logf(orbital.LevelInfo, "%q every %d ms", greeting, period)
}

func ExampleConfig() {
	cfg, err := orbital.Config()
	if err != nil {
		orbital.Log(orbital.LevelError, "config: "+err.Error())
		return
	}
	if verbose, _ := cfg["verbose"].(bool); verbose {
		orbital.Logf(orbital.LevelDebug, "configuration: %v", cfg)
	}
}
