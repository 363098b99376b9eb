package orbital_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/compositor"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

func screenKernel(t *testing.T) (*orbital.Kernel, *compositor.Compositor, *orbital.Module) {
	t.Helper()
	c := compositor.New(compositor.Options{Width: 128, Height: 96, Background: 0xff000000})
	t.Cleanup(func() { _ = c.Close() })
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(testwasm.Home(t)).WithScreen(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	m, err := k.LoadFile(context.Background(), testwasm.Path(t, "rasterwat"))
	if err != nil {
		t.Fatal(err)
	}
	return k, c, m
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestScreenWindowLifecycle: a real wasm guest granted a display draws its
// window (composited on the screen), keeps spinning without presenting
// again while the screen stays live, and when killed its window goes
// and its surface memory is freed.
func TestScreenWindowLifecycle(t *testing.T) {
	k, c, m := screenKernel(t)
	ctx := context.Background()
	p, err := k.Spawn(ctx, m, orbital.SpawnOptions{Grant: orbital.Grant{Display: orbital.Size{Width: 640, Height: 480}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the window", func() bool {
		w := c.Info().Windows
		return len(w) == 1 && w[0].Presents == 1
	})
	w := c.Info().Windows[0]
	if w.Name != "rasterwat" || w.SurfaceWidth != 64 || !w.Depth || w.Bytes != 64*64*4*4 {
		t.Fatalf("window %+v", w)
	}
	img, err := c.Snapshot("")
	if err != nil {
		t.Fatal(err)
	}
	o := img.PixOffset(w.X+10, w.Y+10)
	if got := [4]byte(img.Pix[o : o+4]); got != [4]byte{255, 0, 0, 255} {
		t.Fatalf("the window shows %v, want red", got)
	}
	// The guest spins forever: the screen still composites (a move is shown).
	x := 40
	if err := c.Apply(api.WindowOp{Window: "rasterwat", X: &x}); err != nil {
		t.Fatal(err)
	}
	img, _ = c.Snapshot("")
	if o := img.PixOffset(41, w.Y+10); img.Pix[o] != 255 {
		t.Fatal("the moved window is not shown while its module spins")
	}
	if p.Info().State != api.StateRunning {
		t.Fatalf("state %s", p.Info().State)
	}
	p.Kill(nil)
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the window to go", func() bool { return len(c.Info().Windows) == 0 })
	img, _ = c.Snapshot("")
	if o := img.PixOffset(41, w.Y+10); img.Pix[o] != 0 {
		t.Fatal("the killed module's pixels are still on the screen")
	}
}

// TestScreenCrashedModule: a module that traps after presenting loses its
// window.
func TestScreenCrashedModule(t *testing.T) {
	k, c, m := screenKernel(t)
	ctx := context.Background()
	p, err := k.Spawn(ctx, m, orbital.SpawnOptions{Grant: orbital.Grant{Display: orbital.Size{Width: 64, Height: 64}}, Config: []byte(`{"crash":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := p.Wait(ctx)
	if info.State != api.StateCrashed {
		t.Fatalf("state %s (%s)", info.State, info.Reason)
	}
	waitUntil(t, "no windows", func() bool { return len(c.Info().Windows) == 0 })
}

// TestScreenDenials: no display grant is a clear spawn error; a grant
// smaller than the surface the guest asks for, or a memory limit that
// leaves no room for it, makes surface_create fail with a message the
// guest can read (it exits 3).
func TestScreenDenials(t *testing.T) {
	k, _, m := screenKernel(t)
	ctx := context.Background()
	_, err := k.Spawn(ctx, m, orbital.SpawnOptions{})
	if !errors.Is(err, api.ErrPermissionDenied) || !strings.Contains(err.Error(), "--display") {
		t.Fatalf("spawn without a display grant: %v", err)
	}
	for _, g := range []orbital.Grant{
		{Display: orbital.Size{Width: 32, Height: 32}},                                         // smaller than 64x64
		{Display: orbital.Size{Width: 64, Height: 64}, Limits: orbital.Limits{MemoryPages: 1}}, // memory: 1 page, all the guest's
	} {
		p, err := k.Spawn(ctx, m, orbital.SpawnOptions{Grant: g})
		if err != nil {
			t.Fatal(err)
		}
		info, _ := p.Wait(ctx)
		if info.State != api.StateExited || info.ExitCode != 3 {
			t.Fatalf("grant %+v: %s exit %d (%s)", g, info.State, info.ExitCode, info.Reason)
		}
	}
}

// TestScreenPresentBlob: a guest shows a blob as its frame without a
// copy; the surface holds the blob while it is shown, and the blob is
// freed when the process ends.
func TestScreenPresentBlob(t *testing.T) {
	k, c, _ := screenKernel(t)
	ctx := context.Background()
	m, err := k.LoadFile(ctx, testwasm.Path(t, "rasterblob"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Spawn(ctx, m, orbital.SpawnOptions{Grant: orbital.Grant{Display: orbital.Size{Width: 4, Height: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the blob frame", func() bool {
		w := c.Info().Windows
		return len(w) == 1 && w[0].Presents == 1
	})
	img, err := c.Snapshot("rasterblob")
	if err != nil {
		t.Fatal(err)
	}
	if g, b := [4]byte(img.Pix[0:4]), [4]byte(img.Pix[12*4:13*4]); g != [4]byte{0, 255, 0, 255} || b != [4]byte{0, 0, 255, 255} {
		t.Fatalf("frame pixels %v %v", g, b)
	}
	if n, _ := k.Blobs(); n != 1 {
		t.Fatalf("%d blobs while shown (the guest released its handle; the surface holds one)", n)
	}
	p.Kill(nil)
	_, _ = p.Wait(ctx)
	waitUntil(t, "the blob to be freed", func() bool { n, _ := k.Blobs(); return n == 0 })
}
