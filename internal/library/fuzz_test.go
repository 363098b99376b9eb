package library_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/shape"
)

// FuzzCallArgs drives arbitrary argument bytes through the host side of a
// call — binding, size check, the declared shape's check on the way in and
// on the way out — into a native echo library. Whatever the bytes, the call
// never panics, is refused with ErrInvalid exactly when the shape refuses
// them, and otherwise returns them unchanged.
func FuzzCallArgs(f *testing.F) {
	specs := map[string]string{
		"raw":    "bytes",
		"text":   "string",
		"doc":    "json",
		"point":  "{x: int, y: int, label?: string}",
		"list":   "[float]",
		"nested": "{items: [{id: int, tags?: [string]?}], total: int?}",
	}
	reg := library.NewRegistry(1 << 16)
	var exports []library.NativeExport
	shapes := map[string]*shape.Shape{}
	for name, spec := range specs {
		s := shape.MustParse(spec)
		shapes[name] = s
		exports = append(exports, library.NativeExport{
			Export: library.Export{Name: name, Args: s, Result: s},
			Func: func(_ context.Context, args []byte) ([]byte, error) {
				return append([]byte(nil), args...), nil
			},
		})
	}
	lib, err := library.NewNative("probe", "1.0.0", exports)
	if err != nil {
		f.Fatal(err)
	}
	if err := reg.Add(lib); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", "hello", `{"x": 1, "y": 2}`, `{"x": 1.5}`, `[1, 2.5, -3e2]`,
		`{"items": [{"id": 1, "tags": ["a"]}], "total": null}`, "\xff\xfe", `{"x":1,"x":2,"y":3}`, `[1,`} {
		for name := range specs {
			f.Add(name, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, fn string, args []byte) {
		s, known := shapes[fn]
		got, err := reg.Call(context.Background(), "probe", fn, args)
		switch {
		case !known:
			if !errors.Is(err, api.ErrNotFound) {
				t.Fatalf("unknown function %q: %v", fn, err)
			}
		case len(args) > reg.MaxCall():
			if !errors.Is(err, api.ErrTooLarge) {
				t.Fatalf("oversized: %v", err)
			}
		case s.Validate(args) != nil:
			if !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("%s(%q): shape refuses it but the call gave %v", fn, args, err)
			}
		case err != nil:
			t.Fatalf("%s(%q): %v", fn, args, err)
		case !bytes.Equal(got, args):
			t.Fatalf("%s(%q) = %q", fn, args, got)
		}
	})
}
