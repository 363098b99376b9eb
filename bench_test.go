package orbital_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// Kernel-level benchmarks of the hot paths through real wasm processes.
// The floors (a Go channel hop, a plain call) are measured beside them.
// Results and the machine are recorded in docs/BENCHMARKS.md.

func benchKernel(b *testing.B) (*orbital.Kernel, *orbital.Module) {
	b.Helper()
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(b.TempDir()).WithMaxRunning(runtime.GOMAXPROCS(0)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close(context.Background()) })
	pong, err := k.LoadFile(context.Background(), testwasm.Path(b, "pong"))
	if err != nil {
		b.Fatal(err)
	}
	return k, pong
}

func spawnPongs(b *testing.B, k *orbital.Kernel, pong *orbital.Module, n int) []*orbital.Process {
	b.Helper()
	ps := make([]*orbital.Process, n)
	for i := range ps {
		p, err := k.Spawn(context.Background(), pong, orbital.SpawnOptions{Name: fmt.Sprintf("pong%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		ps[i] = p
	}
	return ps
}

// collector registers a native endpoint whose mailbox receives the pongs'
// answers.
func collector(b *testing.B, k *orbital.Kernel, capacity int) *orbital.Conn {
	b.Helper()
	c, err := k.Connect("bench", orbital.ConnOptions{Mailbox: capacity, Overflow: "block", BlockTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkRoundTrip: a native endpoint sends to a wasm process, which sends
// the data back (two hops, each a copy into and out of guest memory).
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		b.Run(fmt.Sprintf("wasm/%dB", size), func(b *testing.B) {
			k, pong := benchKernel(b)
			spawnPongs(b, k, pong, 1)
			ep := collector(b, k, 16)
			data := make([]byte, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := ep.Send("pong0", data); err != nil {
					b.Fatal(err)
				}
				if _, err := ep.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("floor/go-channel", func(b *testing.B) {
		req, resp := make(chan []byte), make(chan []byte)
		go func() {
			for d := range req {
				resp <- d
			}
		}()
		data := make([]byte, 64)
		for b.Loop() {
			req <- data
			<-resp
		}
		close(req)
	})
}

// BenchmarkRequestReply: bus request/reply through a wasm responder.
func BenchmarkRequestReply(b *testing.B) {
	k, pong := benchKernel(b)
	spawnPongs(b, k, pong, 1)
	ep := collector(b, k, 16)
	ctx := context.Background()
	data := make([]byte, 64)
	for b.Loop() {
		if _, err := ep.Request(ctx, "ping", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThroughput: messages per second through N wasm processes, each
// echoing what it receives back to the sender; 64 messages in flight per
// process at most.
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{2, 100, 10000} {
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) {
			k, pong := benchKernel(b)
			spawnPongs(b, k, pong, n)
			ep := collector(b, k, 1<<16)
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("pong%d", i)
			}
			data := make([]byte, 64)
			ctx := context.Background()
			window := min(64*n, 1<<15)
			b.ResetTimer()
			sent, got := 0, 0
			for got < b.N {
				for sent < b.N && sent-got < window {
					if err := ep.Send(names[sent%n], data); err != nil {
						b.Fatal(err)
					}
					sent++
				}
				if _, err := ep.Recv(ctx); err != nil {
					b.Fatal(err)
				}
				got++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSpawn measures starting a small precompiled module as a process
// (instantiate + bus registration + goroutine) that then idles in recv, and
// the memory each idle process holds.
func BenchmarkSpawn(b *testing.B) {
	k, pong := benchKernel(b)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rss0 := rssBytes()
	b.ResetTimer()
	ps := spawnPongs(b, k, pong, b.N)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spawns/s")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-B/idle-proc")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(b.N), "stack-B/idle-proc")
	if rss0 > 0 {
		b.ReportMetric(float64(rssBytes()-rss0)/float64(b.N), "rss-B/idle-proc")
	}
	runtime.KeepAlive(ps)
}

// rssBytes is the process's resident set size from /proc (0 elsewhere).
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
