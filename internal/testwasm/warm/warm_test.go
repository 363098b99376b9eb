// Package warm compiles every module in build/wasm into the compile cache
// the tests share (build/testcache/compiled, see testwasm.SharedCache),
// in parallel and without the race detector, before `make test` runs the
// race-enabled suite (ORBITAL_WARM=1 go test -run TestWarm
// ./internal/testwasm/warm). Under -race wazero's compiler is itself
// instrumented and a Go guest takes 10-40 s to compile, and the packages'
// tests, run side by side, would each compile the same modules. It is a
// test so that its entries are exactly what the tests' engines look for:
// wazero names its cache directory after its version as the binary's
// build information gives it, and test binaries carry none ("dev"). A
// module that does not compile is reported and skipped: its tests say why.
package warm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

func TestWarm(t *testing.T) {
	if os.Getenv("ORBITAL_WARM") == "" {
		t.Skip("make test runs this first with ORBITAL_WARM=1, without -race")
	}
	start := time.Now()
	ctx := context.Background()
	root := testwasm.Root(t)
	paths, err := filepath.Glob(filepath.Join(root, "build", "wasm", "*.wasm"))
	if err != nil || len(paths) == 0 {
		t.Fatal("no modules in build/wasm (run make examples)")
	}
	e, err := engine.New(ctx, engine.Config{CacheDir: testwasm.SharedCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	// Largest first, so the longest compile does not start last.
	size := map[string]int64{}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			size[p] = st.Size()
		}
	}
	sort.SliceStable(paths, func(i, j int) bool { return size[paths[i]] > size[paths[j]] })
	var mu sync.Mutex
	counts := map[string]int{}
	progress := func(ev api.CompileEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Stage {
		case api.CompileDone, api.CompileCached, api.CompileFailed:
			counts[ev.Stage]++
		}
		if ev.Stage == api.CompileDone || ev.Stage == api.CompileFailed {
			fmt.Fprintf(os.Stderr, "warm: %s %s (%.1f MB, %s) %s\n", ev.Stage, ev.Module, float64(ev.Size)/1e6, ev.Elapsed.Round(time.Millisecond), ev.Error)
		}
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, p := range paths {
		g.Go(func() error {
			wasm, err := os.ReadFile(p)
			if err != nil {
				t.Error(err)
				return nil
			}
			// A compile error is reported through progress (a "failed" line)
			// and is not this test's failure: the module's own tests say why.
			_, _ = e.Compile(ctx, wasm, engine.CompileOptions{Name: filepath.Base(p), Progress: progress})
			return nil
		})
	}
	_ = g.Wait()
	fmt.Fprintf(os.Stderr, "warm: %d modules in %s: %d compiled, %d already cached, %d failed\n",
		len(paths), time.Since(start).Round(100*time.Millisecond), counts[api.CompileDone], counts[api.CompileCached], counts[api.CompileFailed])
}
