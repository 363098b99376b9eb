package screen

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// TestWindowManagementOverTheBus: a real guest's window is listed and
// moved through $wm. requests by a connection allowed to publish there;
// one with "publish everything" is refused.
func TestWindowManagementOverTheBus(t *testing.T) {
	s, err := New(config.Screen{Width: 200, Height: 150, FPS: 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithHome(testwasm.Home(t)).WithScreen(s.Compositor()))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(ctx)
	if err := s.Serve(k); err != nil {
		t.Fatal(err)
	}
	m, err := k.LoadFile(ctx, testwasm.Path(t, "rasterwat"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Spawn(ctx, m, orbital.SpawnOptions{Grant: orbital.Grant{Display: orbital.Size{Width: 64, Height: 64}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill(nil)
	wm, err := k.Connect("ops", orbital.ConnOptions{Publish: []string{"$wm.>"}})
	if err != nil {
		t.Fatal(err)
	}
	defer wm.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var info api.ScreenInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r, err := wm.Request(rctx, "$wm.list", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(r.Data, &info); err != nil {
			t.Fatal(err)
		}
		if len(info.Windows) == 1 && info.Windows[0].Presents > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(info.Windows) != 1 || info.Windows[0].Name != "rasterwat" {
		t.Fatalf("list: %+v", info)
	}
	r, err := wm.Request(rctx, "$wm.set", []byte(`{"window":"rasterwat","x":100,"y":50,"opacity":0.5}`))
	if err != nil || string(r.Data) != `{"ok":true}` {
		t.Fatalf("set: %s %v", r.Data, err)
	}
	if w := s.Compositor().Info().Windows[0]; w.X != 100 || w.Y != 50 || w.Opacity != 0.5 {
		t.Fatalf("after set: %+v", w)
	}
	for subj, data := range map[string]string{"$wm.set": `{"window":"nope"}`, "$wm.explode": `{}`, "$wm.raise": `not json`} {
		r, err := wm.Request(rctx, subj, []byte(data))
		if err != nil || !strings.Contains(string(r.Data), `"error"`) {
			t.Errorf("%s %s: %s %v", subj, data, r.Data, err)
		}
	}
	all, err := k.Connect("all", orbital.ConnOptions{Publish: []string{">"}})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if _, err := all.Request(rctx, "$wm.list", nil); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("'>' reached $wm.list: %v", err)
	}
}

func TestBadDisplay(t *testing.T) {
	if _, err := New(config.Screen{Width: 10, Height: 10, Displays: []string{"fbdev"}, Fbdev: "/nonexistent/fb0"}, nil); err == nil || !strings.Contains(err.Error(), "fbdev") {
		t.Fatalf("missing framebuffer: %v", err)
	}
}

// TestX11InThisBuild: the device build refuses an X11 display with a
// message naming the build that has one; the x11 build tries to connect
// (and fails clearly without a server at that address).
func TestX11InThisBuild(t *testing.T) {
	_, err := New(config.Screen{Width: 10, Height: 10, Displays: []string{"x11"}, X11: "/nonexistent/X0"}, nil)
	if err == nil {
		t.Fatal("an X11 display opened on a missing server")
	}
	if !HasX11 && !strings.Contains(err.Error(), "orbital-server") {
		t.Fatalf("device build: %v", err)
	}
	if HasX11 && !strings.Contains(err.Error(), "x11") {
		t.Fatalf("x11 build: %v", err)
	}
}
