package orbital_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sock"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

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

// BenchmarkHTTPHello: requests per second of a Go net/http hello handler
// in a wasm guest (examples/webserver, on a listener the kernel opened for
// it) against the same handler in native net/http, both driven by the same
// loopback load generator: 8 keep-alive connections, each sending its next
// request when the last answer arrived.
func BenchmarkHTTPHello(b *testing.B) {
	const conns = 8
	wasm := func(b *testing.B, cfg orbital.Config) {
		k, err := orbital.NewKernel(context.Background(), cfg.WithHome(testwasm.Home(b)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = k.Close(context.Background()) })
		mod, err := k.LoadFile(context.Background(), testwasm.Path(b, "webserver"))
		if err != nil {
			b.Fatal(err)
		}
		p, err := k.Spawn(context.Background(), mod, orbital.SpawnOptions{Grant: orbital.Grant{Clock: true,
			Network: []string{"tcp-listen://127.0.0.1:*"}}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Kill(fmt.Errorf("benchmark over")) })
		loadHTTP(b, "http://"+p.Info().Net.Listen[0]+"/", conns)
	}
	// Untrusted: compiled with wazero's termination checks, so that a
	// deadline or a kill stops it anywhere.
	b.Run("orbital-wasm", func(b *testing.B) { wasm(b, orbital.NewConfig()) })
	// Trusted (trust.toml): compiled without them.
	b.Run("orbital-wasm-trusted", func(b *testing.B) { wasm(b, orbital.NewConfig().WithTrusted("webserver")) })
	// The floor for a Go guest: the same module on wazero alone, with
	// wazero's WASI and its preopened listener, no termination checks.
	b.Run("raw-wazero", func(b *testing.B) { loadHTTP(b, "http://"+rawWazeroWebserver(b)+"/", conns) })
	b.Run("native", func(b *testing.B) {
		var n atomic.Uint64
		mux := http.NewServeMux()
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from wasm #%d\n", n.Add(1))
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: mux}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close() })
		loadHTTP(b, "http://"+ln.Addr().String()+"/", conns)
	})
}

// loadHTTP sends b.N GETs of url over conns keep-alive connections and
// reports requests per second.
func loadHTTP(b *testing.B, url string, conns int) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for get() != nil { // the server may still be starting
		if time.Now().After(deadline) {
			b.Fatalf("%s never answered", url)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var next atomic.Int64
	var failed atomic.Value
	b.ResetTimer()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := get(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// rawWazero runs examples/webserver once per test binary on wazero alone
// (its own WASI, a preopened listener, no termination checks) and returns
// the address: the floor of BenchmarkHTTPHello. It is never closed:
// closing a wazero runtime whose guest blocks on a socket crashes in
// wazero 1.12 (FSContext.Close), so it ends with the binary.
var rawWazero struct {
	once sync.Once
	addr string
	err  error
}

func rawWazeroWebserver(b *testing.B) string {
	b.Helper()
	wasm := testwasm.Read(b, "webserver")
	rawWazero.once.Do(func() {
		ctx := context.Background()
		free, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			rawWazero.err = err
			return
		}
		port := free.Addr().(*net.TCPAddr).Port
		_ = free.Close()
		rt := wazero.NewRuntime(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, rt)
		rawWazero.addr = fmt.Sprintf("127.0.0.1:%d", port)
		sctx := sock.WithConfig(ctx, sock.NewConfig().WithTCPListener("127.0.0.1", port))
		cfg := wazero.NewModuleConfig().WithSysWalltime().WithSysNanotime().WithSysNanosleep().
			WithEnv("ORBITAL_LISTEN", rawWazero.addr).WithStderr(os.Stderr)
		go func() {
			if _, err := rt.InstantiateWithConfig(sctx, wasm, cfg); err != nil {
				fmt.Fprintln(os.Stderr, "raw wazero:", err)
			}
		}()
	})
	if rawWazero.err != nil {
		b.Fatal(rawWazero.err)
	}
	return rawWazero.addr
}
