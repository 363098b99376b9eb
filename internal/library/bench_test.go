package library_test

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"testing"
)

// BenchmarkCall measures one cross-module call from a wasm caller into a
// wasm library (calltest.echo): arguments copied in, result copied back.
// Compare with BenchmarkFloor* below and with engine's host-call floor.
func BenchmarkCall(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			h := newHarness(b, 2)
			h.startLib("calltest", "1.0.0", false, 1, 0)
			c := h.caller(allowAll, 0)
			hd := c.bind("calltest", "echo")
			args := make([]byte, size)
			if r, _, err := c.run(hd, 10, args); err != nil || r != int64(size) {
				b.Fatalf("warm-up: %d %v", r, err)
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			r, _, err := c.run(hd, b.N, args)
			if err != nil || r != int64(size) {
				b.Fatalf("%d %v", r, err)
			}
		})
	}
}

// BenchmarkCallParallel measures throughput of a stateless library with
// 2, 8 and 64 concurrent wasm callers.
func BenchmarkCallParallel(b *testing.B) {
	for _, callers := range []int{2, 8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			h := newHarness(b, 0)
			h.startLib("calltest", "1.0.0", false, 4, 0)
			cs := make([]*caller, callers)
			hs := make([]int32, callers)
			for i := range cs {
				cs[i] = h.caller(allowAll, 0)
				hs[i] = cs[i].bind("calltest", "echo")
			}
			args := make([]byte, 64)
			b.SetBytes(64)
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/callers + 1
			for i := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r, _, err := cs[i].run(hs[i], per, args); err != nil || r != 64 {
						b.Errorf("%d %v", r, err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkHostCall is a call made by the host (native caller) into a wasm
// library: no caller memory, one result copy.
func BenchmarkHostCall(b *testing.B) {
	h := newHarness(b, 2)
	h.startLib("calltest", "1.0.0", false, 1, 0)
	args := make([]byte, 64)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.reg.Call(ctx, "calltest", "echo", args); err != nil {
			b.Fatal(err)
		}
	}
}

//go:noinline
func echo(p []byte) []byte { return p }

// BenchmarkFloorGoCall is a plain Go function call: the floor.
func BenchmarkFloorGoCall(b *testing.B) {
	p := make([]byte, 64)
	for b.Loop() {
		p = echo(p)
	}
}

// BenchmarkFloorChanRoundTrip is a request/response between two goroutines
// over channels: the floor of any hand-off design.
func BenchmarkFloorChanRoundTrip(b *testing.B) {
	req, resp := make(chan []byte), make(chan []byte)
	go func() {
		for p := range req {
			resp <- p
		}
	}()
	p := make([]byte, 64)
	for b.Loop() {
		req <- p
		p = <-resp
	}
	close(req)
}

// BenchmarkFloorCoroutineSwitch is a round trip through iter.Pull, the
// goroutine switch a call between modules rides on.
func BenchmarkFloorCoroutineSwitch(b *testing.B) {
	var in []byte
	next, stop := iter.Pull(func(yield func([]byte) bool) {
		for yield(in) {
		}
	})
	defer stop()
	p := make([]byte, 64)
	for b.Loop() {
		in = p
		p, _ = next()
	}
}
