package bus

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// Benchmarks, each beside its floor (the same shape done with plain Go
// channels or memory copies). Run with:
//
//	go test -run '^$' -bench . -benchmem ./internal/bus/
//
// Every bus benchmark uses Block mailboxes with a long timeout, so nothing
// is dropped and the numbers compare like for like with channels (which
// block too).

var blockBox = MailboxConfig{Capacity: 1024, Overflow: Block, BlockTimeout: time.Minute}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkHop: one publisher, one subscriber on another goroutine;
// ns/op is the cost per message at full throughput.
func BenchmarkHop(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		name := fmt.Sprintf("%dB", size)
		if size >= 1<<10 {
			name = fmt.Sprintf("%dKiB", size>>10)
		}
		b.Run("chan/"+name, func(b *testing.B) { benchChanHop(b, size) })
		b.Run("bus/"+name, func(b *testing.B) { benchBusHop(b, size) })
	}
}

func benchChanHop(b *testing.B, size int) {
	ch := make(chan Message, blockBox.Capacity)
	data := make([]byte, size)
	done := make(chan struct{})
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			<-ch
		}
		close(done)
	}()
	for range b.N {
		ch <- Message{Subject: "hop", Data: data}
	}
	<-done
	reportRate(b, start)
}

func benchBusHop(b *testing.B, size int) {
	bus := New(Options{})
	pub := register(b, bus, "pub", 1, AllowAll, MailboxConfig{})
	sub := register(b, bus, "sub", 2, AllowAll, blockBox)
	subscribe(b, sub, "hop", "")
	data := make([]byte, size)
	done := make(chan struct{})
	mb := sub.Mailbox()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			if _, err := mb.Recv(context.Background()); err != nil {
				panic(err)
			}
		}
		close(done)
	}()
	for range b.N {
		if err := pub.Publish("hop", Message{Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	reportRate(b, start)
	if _, _, d := mb.Stats(); d != 0 {
		b.Fatalf("%d dropped", d)
	}
}

// BenchmarkRequestReply: a full round trip to a responder goroutine.
func BenchmarkRequestReply(b *testing.B) {
	b.Run("chan", func(b *testing.B) {
		req, resp := make(chan Message, 1), make(chan Message, 1)
		go func() {
			for m := range req {
				resp <- m
			}
		}()
		defer close(req)
		m := Message{Subject: "svc", Data: make([]byte, 64)}
		lat := make([]time.Duration, 0, min(b.N, 1<<20))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			req <- m
			<-resp
			if i < cap(lat) {
				lat = append(lat, time.Since(t0))
			}
		}
		reportLatency(b, lat)
	})
	b.Run("bus", func(b *testing.B) {
		bus := New(Options{})
		cli := register(b, bus, "cli", 1, AllowAll, MailboxConfig{})
		srv := register(b, bus, "srv", 2, AllowAll, blockBox)
		subscribe(b, srv, "svc", "")
		go func() {
			for {
				m, err := srv.Mailbox().Recv(context.Background())
				if err != nil {
					return
				}
				_ = srv.Reply(m, m.Data)
			}
		}()
		defer srv.Mailbox().Close()
		data := make([]byte, 64)
		ctx := context.Background()
		lat := make([]time.Duration, 0, min(b.N, 1<<20))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			if _, err := cli.Request(ctx, "svc", data); err != nil {
				b.Fatal(err)
			}
			if i < cap(lat) {
				lat = append(lat, time.Since(t0))
			}
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkBlobFanOut4MiB: hand a 4 MiB buffer to 3 subscribers. The bus
// passes a handle (create blob, publish, each receiver touches the bytes
// and releases); the floor is what it replaces, copying 4 MiB three times.
func BenchmarkBlobFanOut4MiB(b *testing.B) {
	const size = 4 << 20
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	b.Run("copy3", func(b *testing.B) {
		var dst [3][]byte
		for i := range dst {
			dst[i] = make([]byte, size)
		}
		b.ReportAllocs()
		b.SetBytes(3 * size)
		b.ResetTimer()
		for range b.N {
			for i := range dst {
				copy(dst[i], src)
			}
		}
	})
	b.Run("blob", func(b *testing.B) {
		bus := New(Options{})
		store := NewBlobStore()
		quota := NewQuota(1 << 40)
		pub := register(b, bus, "pub", 1, AllowAll, MailboxConfig{})
		var wg sync.WaitGroup
		var sum [3]byte
		for i := range 3 {
			s := register(b, bus, fmt.Sprint("s", i), uint64(10+i), AllowAll, blockBox)
			subscribe(b, s, "frames", "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					m, err := s.Mailbox().Recv(context.Background())
					if err != nil {
						return
					}
					sum[i] += m.Blob.Bytes()[size-1] // zero-copy read
					_ = m.Blob.Release()
				}
			}()
			defer s.Mailbox().Close()
		}
		b.ReportAllocs()
		b.SetBytes(3 * size)
		b.ResetTimer()
		for range b.N {
			blob, err := store.New("pub", src, quota)
			if err != nil {
				b.Fatal(err)
			}
			if err := pub.Publish("frames", Message{Blob: blob}); err != nil {
				b.Fatal(err)
			}
			_ = blob.Release()
		}
		for _, e := range []string{"s0", "s1", "s2"} {
			ep, _ := bus.Lookup(e)
			for ep.Mailbox().Len() > 0 {
				time.Sleep(10 * time.Microsecond)
			}
		}
		b.StopTimer()
		waitFor(b, "blobs freed", func() bool { n, _ := store.Stats(); return n == 0 })
	})
}

// BenchmarkThroughput: messages per second among n endpoints, each on its
// own goroutine, passing tokens around a ring (Publish to the next one's
// subject) or to random peers (Send by #id). The floor is the same ring
// of goroutines over channels.
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{2, 100, 10000} {
		b.Run(fmt.Sprintf("chan-ring/%d", n), func(b *testing.B) { benchChanNet(b, n, false) })
		b.Run(fmt.Sprintf("bus-ring/%d", n), func(b *testing.B) { benchBusNet(b, n, false) })
		b.Run(fmt.Sprintf("chan-random/%d", n), func(b *testing.B) { benchChanNet(b, n, true) })
		b.Run(fmt.Sprintf("bus-random/%d", n), func(b *testing.B) { benchBusNet(b, n, true) })
	}
}

// tokens returns how many messages circulate at once among n endpoints,
// and the hop budget of each so that the total is b.N.
func tokens(n, total int) []int {
	k := min(n, 256)
	ttl := make([]int, k)
	for i := range ttl {
		ttl[i] = total / k
		if i < total%k {
			ttl[i]++
		}
	}
	return ttl
}

func benchChanNet(b *testing.B, n int, random bool) {
	chs := make([]chan []byte, n)
	for i := range chs {
		chs[i] = make(chan []byte, 256) // as many slots as tokens: see benchBusNet
	}
	var wg sync.WaitGroup
	var live sync.WaitGroup
	for i := range n {
		live.Add(1)
		go func() {
			defer live.Done()
			next := chs[(i+1)%n]
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			for d := range chs[i] {
				ttl := binary.LittleEndian.Uint64(d)
				if ttl <= 1 {
					wg.Done()
					continue
				}
				binary.LittleEndian.PutUint64(d, ttl-1)
				if random {
					next = chs[rng.IntN(n)]
				}
				next <- d
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, ttl := range tokens(n, b.N) {
		if ttl == 0 {
			continue
		}
		wg.Add(1)
		d := make([]byte, 64)
		binary.LittleEndian.PutUint64(d, uint64(ttl))
		chs[i%n] <- d
	}
	wg.Wait()
	reportRate(b, start)
	b.StopTimer()
	for _, c := range chs {
		close(c)
	}
	live.Wait()
}

func benchBusNet(b *testing.B, n int, random bool) {
	bus := New(Options{MaxTrackedSubjects: 2 * n})
	// Capacity ≥ the number of tokens: a mailbox can only be full when it
	// holds every token, so no sender can be blocked then. (With fewer
	// slots, random peers could block on each other in a cycle until
	// BlockTimeout: bounded mailboxes plus Block can deadlock for that
	// long, which is why the timeout exists.)
	cfg := MailboxConfig{Capacity: 256, Overflow: Block, BlockTimeout: time.Minute}
	eps := make([]*Endpoint, n)
	for i := range n {
		eps[i] = register(b, bus, fmt.Sprint("p", i), uint64(i), AllowAll, cfg)
		subscribe(b, eps[i], fmt.Sprint("ring.", i), "")
	}
	ids := make([]string, n)
	for j := range n {
		ids[j] = fmt.Sprint("#", j)
	}
	var wg, live sync.WaitGroup
	for i, e := range eps {
		live.Add(1)
		go func() {
			defer live.Done()
			next := fmt.Sprint("ring.", (i+1)%n)
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			mb := e.Mailbox()
			for {
				m, err := mb.Recv(context.Background())
				if err != nil {
					return
				}
				ttl := binary.LittleEndian.Uint64(m.Data)
				if ttl <= 1 {
					wg.Done()
					continue
				}
				binary.LittleEndian.PutUint64(m.Data, ttl-1)
				if random {
					err = e.Send(ids[rng.IntN(n)], Message{Data: m.Data})
				} else {
					err = e.Publish(next, Message{Data: m.Data})
				}
				if err != nil {
					panic(err)
				}
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i, ttl := range tokens(n, b.N) {
		if ttl == 0 {
			continue
		}
		wg.Add(1)
		d := make([]byte, 64)
		binary.LittleEndian.PutUint64(d, uint64(ttl))
		if err := eps[i%n].Send(eps[i%n].Name(), Message{Data: d}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	reportRate(b, start)
	b.StopTimer()
	for _, e := range eps {
		e.Mailbox().Close()
	}
	live.Wait()
	for _, e := range eps {
		if d := e.Stats().Dropped; d != 0 {
			b.Fatalf("%s dropped %d", e.Name(), d)
		}
	}
}

// BenchmarkPublishNoSubscribers is the bare cost of the publish path.
func BenchmarkPublishNoSubscribers(b *testing.B) {
	bus := New(Options{})
	e := register(b, bus, "e", 1, Permissions{Publish: Rules{Allow: []string{"app.*.frames", "ctl"}}}, MailboxConfig{})
	data := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Publish("app.cam.frames", Message{Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	for b.Loop() {
		Match("app.*.frames.>", "app.camera.frames.hd.left")
	}
}
