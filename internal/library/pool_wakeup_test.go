package library_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSingleWorkerConcurrentCallers: callers queued for the only worker of
// a pool (a stateful library, or a stateless one of one instance) are all
// served. A worker handed back into the pool's idle slot used to wake none
// of the callers already waiting on the free list, which then waited until
// their deadline (or forever without one).
func TestSingleWorkerConcurrentCallers(t *testing.T) {
	for _, stateful := range []bool{true, false} {
		t.Run(fmt.Sprintf("stateful=%v", stateful), func(t *testing.T) {
			h := newHarness(t, 2)
			h.startLib("calltest", "1.0.0", stateful, 1, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			start := time.Now()
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := range 100 {
						want := []byte(fmt.Sprintf("caller %d call %d", g, n))
						got, err := h.reg.Call(ctx, "calltest", "echo", want)
						if err != nil || !bytes.Equal(got, want) {
							errs <- fmt.Errorf("caller %d call %d: %q %v", g, n, got, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("1600 echo calls took %v", d)
			}
		})
	}
}
