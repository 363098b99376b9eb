package node

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// The boot compiles the configured modules in parallel, once per distinct
// binary, tells Options.Progress of each, and reports the outcome in the
// node's health; a second boot on the same home finds every module in the
// disk cache.
func TestBootCompilesInParallelAndReports(t *testing.T) {
	home := t.TempDir() // its own compile cache: the first boot compiles
	wasmDir := filepath.Dir(testwasm.Path(t, "echo"))
	toml := "[node]\nmodule_path = [\"" + wasmDir + "\"]\ngrace = \"2s\"\n" +
		"[[process]]\nname = \"echo\"\nmodule = \"echo\"\n" +
		"[[process]]\nname = \"echo2\"\nmodule = \"echo\"\n" +
		"[[process]]\nname = \"pong\"\nmodule = \"pong\"\n"
	boot := func() (api.BootReport, map[string][]string) {
		t.Helper()
		cfg, err := config.Parse([]byte(toml), "test.toml", t.TempDir(), home)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[string][]string{}
		progress := func(ev api.CompileEvent) {
			mu.Lock()
			seen[ev.Module] = append(seen[ev.Module], ev.Stage)
			mu.Unlock()
		}
		n, err := Start(context.Background(), cfg, home, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Progress: progress})
		if err != nil {
			t.Fatal(err)
		}
		rep := n.Health().Boot
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return rep, seen
	}

	rep, seen := boot()
	if rep.Compiled != 2 || rep.Cached != 0 || rep.Failed != 0 || rep.Seconds <= 0 || rep.CompileSeconds <= 0 || rep.CompileSeconds > rep.Seconds {
		t.Fatalf("first boot: %+v", rep)
	}
	if got := seen["pong"]; !slices.Equal(got, []string{api.CompileStarted, api.CompileDone}) {
		t.Errorf("pong's progress: %v", got)
	}
	// Two processes of one module: one compile, the other finds it loaded.
	echo := seen["echo"]
	slices.Sort(echo)
	if !slices.Equal(echo, []string{api.CompileDone, api.CompileStarted, api.CompileLoaded}) {
		t.Errorf("echo's progress (two processes, one binary): %v", echo)
	}
	for _, ev := range rep.Modules {
		if ev.Size <= 0 || (ev.Stage == api.CompileDone && ev.Elapsed <= 0) {
			t.Errorf("boot report entry %+v", ev)
		}
	}

	rep, _ = boot()
	if rep.Compiled != 0 || rep.Cached != 2 || rep.Failed != 0 {
		t.Fatalf("second boot: %+v", rep)
	}
}
