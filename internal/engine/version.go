package engine

import "runtime/debug"

// wazeroVersion is the linked wazero module's version ("unknown" when the
// binary carries no build information). Compile-cache markers are kept per
// version, as wazero keeps its cache.
var wazeroVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Version
			}
		}
	}
	return "unknown"
}()
