package orbital_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/abi"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// TestDriverDevicePermission: a driver's functions and subjects reach a
// real wasm module only when it is granted the device; declaring the
// driver as a dependency and its subjects in [bus] is not enough.
func TestDriverDevicePermission(t *testing.T) {
	ctx := context.Background()
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(testwasm.Home(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(ctx)
	d, err := k.AttachDriver(orbital.DriverSpec{Name: "camera", Version: "1.0.0", Exports: []orbital.NativeExport{{
		Export: orbital.Export{Name: "snapshot"},
		Func:   func(context.Context, []byte) ([]byte, error) { return []byte("frame!"), nil },
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.AttachDriver(orbital.DriverSpec{Name: "camera", Version: "1.0.1"}); !errors.Is(err, api.ErrExists) {
		t.Errorf("second camera driver: %v, want ErrExists", err)
	}
	if _, err := k.AttachDriver(orbital.DriverSpec{Name: "a.b", Version: "1.0.0"}); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("driver a.b: %v, want ErrInvalid", err)
	}
	if got := k.Devices(); len(got) != 1 || got[0] != "camera" {
		t.Errorf("Devices = %v", got)
	}

	wasm, err := os.ReadFile(testwasm.Path(t, "devprobe"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(strings.TrimSuffix(testwasm.Path(t, "devprobe"), ".wasm") + ".orbital.toml")
	if err != nil {
		t.Fatal(err)
	}
	probe := func(t *testing.T, name string, requests bool, grant orbital.Grant) (bind, call, sub int32) {
		t.Helper()
		text := string(raw)
		if requests {
			text += "\n[capabilities]\ndevices = [\"camera\"]\n"
		}
		mf, err := orbital.ParseManifest([]byte(text), "devprobe.orbital.toml")
		if err != nil {
			t.Fatal(err)
		}
		m, err := k.Load(ctx, name, wasm, mf)
		if err != nil {
			t.Fatal(err)
		}
		c, err := k.Connect("watch-"+name, orbital.ConnOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Subscribe("probe.result", ""); err != nil {
			t.Fatal(err)
		}
		p, err := k.Spawn(ctx, m, orbital.SpawnOptions{Name: name, Grant: grant})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		msg, err := c.Recv(rctx)
		if err != nil || len(msg.Data) != 12 {
			t.Fatalf("probe result: %v %x", err, msg.Data)
		}
		_, _ = p.Wait(ctx)
		le := binary.LittleEndian
		return int32(le.Uint32(msg.Data)), int32(le.Uint32(msg.Data[4:])), int32(le.Uint32(msg.Data[8:]))
	}

	t.Run("not granted", func(t *testing.T) {
		before := k.BusStats().Denied
		bind, call, sub := probe(t, "probe-denied", false, orbital.Grant{Calls: []string{"*"}})
		if bind != abi.ErrDenied || call != 0 || sub != abi.ErrDenied {
			t.Errorf("bind %d call %d subscribe %d, want ERR_DENIED, not called, ERR_DENIED", bind, call, sub)
		}
		if k.BusStats().Denied <= before {
			t.Error("the refused subscription was not counted")
		}
	})
	t.Run("granted", func(t *testing.T) {
		bind, call, sub := probe(t, "probe-granted", true, orbital.Grant{Devices: []string{"camera"}})
		if bind < 0 || call != int32(len("frame!")) || sub <= 0 {
			t.Errorf("bind %d call %d subscribe %d, want a handle, 6 bytes, a subscription", bind, call, sub)
		}
	})
	t.Run("requested but not granted", func(t *testing.T) {
		mf, _ := orbital.ParseManifest(append(raw, "\n[capabilities]\ndevices = [\"camera\"]\n"...), "x.toml")
		m, err := k.Load(ctx, "probe-nogrant", wasm, mf)
		if err != nil {
			t.Fatal(err)
		}
		_, err = k.Spawn(ctx, m, orbital.SpawnOptions{Name: "probe-nogrant"})
		if !errors.Is(err, api.ErrPermissionDenied) || !strings.Contains(err.Error(), `devices = ["camera"]`) {
			t.Errorf("spawn without the grant: %v", err)
		}
	})

	// Frames: the blob quota bounds what lagging consumers may hold.
	c, err := k.Connect("consumer", orbital.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe("camera.>", ""); err != nil {
		t.Fatal(err)
	}
	if err := d.PublishFrame("camera.front.frames", []byte(`{"seq":1}`), make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if d.BlobBytes() != 1000 {
		t.Errorf("BlobBytes = %d while the consumer holds the frame", d.BlobBytes())
	}
	m, err := c.Recv(ctx)
	if err != nil || string(m.Data) != `{"seq":1}` || len(m.Blob) != 1000 {
		t.Fatalf("frame: %v %q %d", err, m.Data, len(m.Blob))
	}
	d.Detach()
	if len(k.Devices()) != 0 {
		t.Errorf("Devices after Detach = %v", k.Devices())
	}
	if _, err := k.Call(ctx, "camera", "snapshot", nil); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("call after Detach: %v", err)
	}
}
