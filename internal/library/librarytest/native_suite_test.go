package librarytest_test

import (
	"testing"

	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/library/librarytest"
)

// nativeFactory makes the conformance library from librarytest.Native.
func nativeFactory(t *testing.T, reg *library.Registry, name, version string) *library.Library {
	t.Helper()
	lib, err := library.NewNative(name, version, librarytest.Native())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Add(lib); err != nil {
		t.Fatal(err)
	}
	return lib
}

func TestConformanceNative(t *testing.T) {
	librarytest.Suite(t, "native", nativeFactory)
}
