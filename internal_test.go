package orbital

import (
	"testing"

	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// TestPublicConstantsAgree: the root package spells out constants the
// internal packages define (so that its documentation shows values, not
// internal names); they must agree.
func TestPublicConstantsAgree(t *testing.T) {
	for _, c := range []struct{ public, internal string }{
		{KindApp, string(manifest.KindApp)}, {KindLibrary, string(manifest.KindLibrary)},
		{KindDriver, string(manifest.KindDriver)}, {KindService, string(manifest.KindService)},
		{SysPrefix, bus.SysPrefix}, {ManifestSection, "orbital.manifest"},
	} {
		if c.public != c.internal {
			t.Errorf("public %q, internal %q", c.public, c.internal)
		}
	}
}
