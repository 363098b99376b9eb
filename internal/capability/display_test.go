package capability_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/capability"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// TestResolveDisplayAndInput: the surface size is the smaller of the
// module's max and the grant; below the module's min, or missing, is
// refused (unless optional); input needs both sides.
func TestResolveDisplayAndInput(t *testing.T) {
	const disp = "[capabilities]\ninput = true\n[capabilities.display]\nmax = \"640x480\"\nmin = \"160x120\"\n"
	cases := []struct {
		name, manifest string
		display        capability.Size
		input          bool
		want           capability.Size
		wantInput      bool
		err            string
	}{
		{"granted larger", disp, capability.Size{Width: 1920, Height: 1080}, true, capability.Size{Width: 640, Height: 480}, true, ""},
		{"lowered by grant", disp, capability.Size{Width: 320, Height: 1000}, true, capability.Size{Width: 320, Height: 480}, true, ""},
		{"below min", disp, capability.Size{Width: 100, Height: 100}, true, capability.Size{}, false, "at least 160x120"},
		{"not granted", disp, capability.Size{}, true, capability.Size{}, false, "--display WxH"},
		{"input not granted", disp, capability.Size{Width: 640, Height: 480}, false, capability.Size{}, false, "--input"},
		{"optional", "[capabilities.display]\nmax = \"64x64\"\noptional = true\n", capability.Size{}, false, capability.Size{}, false, ""},
		{"not requested", "", capability.Size{Width: 64, Height: 64}, true, capability.Size{}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := stdio()
			g.Display, g.Input = c.display, c.input
			s, err := capability.Resolve(mf(t, c.manifest), g)
			if c.err != "" {
				if !errors.Is(err, capability.ErrNotGranted) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an error containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Display != c.want || s.Input != c.wantInput {
				t.Fatalf("display %v input %v, want %v %v", s.Display, s.Input, c.want, c.wantInput)
			}
		})
	}
}

func TestManifestDisplayErrors(t *testing.T) {
	for _, bad := range []string{
		"[capabilities.display]\nmin = \"10x10\"\n",                  // max missing
		"[capabilities.display]\nmax = \"0x10\"\n",                   // zero
		"[capabilities.display]\nmax = \"10x99999\"\n",               // too large
		"[capabilities.display]\nmax = \"ten\"\n",                    // not WxH
		"[capabilities.display]\nmax = \"10x10\"\nmin = \"20x20\"\n", // min > max
		"[capabilities.display]\nmax = \"10x10\"\nsize = 3\n",        // unknown key
	} {
		if _, err := manifest.Parse([]byte("name = \"a\"\nversion = \"1.0.0\"\nkind = \"app\"\n"+bad), "orbital.toml"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
