package orbital_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// TestProvideAndCall: a wasm library registered with the kernel is called
// by the host, restarted by the kernel's own supervisor after a trap, and
// listed; a native library answers the same way; a library cannot be run
// as a process.
func TestProvideAndCall(t *testing.T) {
	ctx := context.Background()
	k := newKernel(t)
	mod, err := k.LoadFile(ctx, testwasm.Path(t, "calltest"))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := k.Provide(ctx, mod, orbital.ProvideOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lib.Name() != "calltest" || lib.Version() != "1.0.0" {
		t.Fatalf("library %s@%s", lib.Name(), lib.Version())
	}
	if _, err := k.Provide(ctx, mod, orbital.ProvideOptions{}); !errors.Is(err, api.ErrExists) {
		t.Fatalf("providing the same version twice: %v", err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	got, err := k.Call(ctx, "calltest", "echo", big)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("echo 1 MiB: %v", err)
	}
	if _, err := k.Call(ctx, "calltest", "trap", nil); !errors.Is(err, api.ErrCrashed) {
		t.Fatalf("trap: %v", err)
	}
	if got, err := k.Call(ctx, "calltest", "echo", []byte("back")); err != nil || string(got) != "back" {
		t.Fatalf("after the kernel restarted it: %q %v", got, err)
	}
	if info := lib.Info(); info.Restarts < 1 || info.Calls < 3 {
		t.Fatalf("info: %+v", info)
	}

	_, err = k.ProvideNative("clock", "1.0.0", []orbital.NativeExport{{
		Export: orbital.Export{Name: "now"},
		Func: func(context.Context, []byte) ([]byte, error) {
			return []byte(time.Unix(0, 0).UTC().Format(time.RFC3339)), nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Call(ctx, "clock", "now", nil); err != nil || string(got) != "1970-01-01T00:00:00Z" {
		t.Fatalf("native: %q %v", got, err)
	}
	names := map[string]bool{}
	for _, l := range k.Libraries() {
		names[l.Name] = l.Native
	}
	if native, ok := names["clock"]; !ok || !native {
		t.Fatalf("libraries: %v", names)
	}
	if _, ok := names["calltest"]; !ok {
		t.Fatalf("libraries: %v", names)
	}
	if _, err := k.Spawn(ctx, mod, orbital.SpawnOptions{}); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "library") {
		t.Fatalf("spawning a library: %v", err)
	}
	if err := lib.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Call(ctx, "calltest", "echo", nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("after Remove: %v", err)
	}
}
