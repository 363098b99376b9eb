package capability

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/manifest"
)

func TestDevices(t *testing.T) {
	m, err := manifest.Parse([]byte("name = \"facecam\"\nversion = \"1.0.0\"\nkind = \"app\"\n[capabilities]\ndevices = [\"camera\", \"mic\"]\n"), "orbital.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(m, Grant{Devices: []string{"mic", "camera", "gps"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Devices, []string{"camera", "mic"}) {
		t.Errorf("devices = %v", s.Devices)
	}
	if !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, `device "gps" is ignored`) }) {
		t.Errorf("notes %q lack the ignored gps", s.Notes)
	}
	_, err = Resolve(m, Grant{Devices: []string{"camera"}})
	if !errors.Is(err, ErrNotGranted) || !strings.Contains(err.Error(), `uses device "mic" which was not granted (grant it with devices = ["mic"]`) {
		t.Errorf("missing grant: %v", err)
	}
	if _, err := Resolve(m, Grant{Devices: []string{"Bad.Name"}}); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("bad device name: %v", err)
	}
	s, err = Resolve(nil, Grant{Devices: []string{"mic", "camera"}})
	if err != nil || !slices.Equal(s.Devices, []string{"camera", "mic"}) {
		t.Errorf("no manifest: %v %v", s.Devices, err)
	}
}
