package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// FuzzCompile feeds arbitrary bytes to the module loader: it must return a
// module or an ErrBadModule error, never panic, and a module it accepts must
// instantiate or fail with a clear error.
func FuzzCompile(f *testing.F) {
	for _, name := range []string{"counter", "hostcall", "spin", "badimport", "recurse"} {
		f.Add(testwasm.Read(f, name))
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte{})
	e, err := New(context.Background(), Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, err := e.Compile(context.Background(), wasm, CompileOptions{Name: "fuzz"})
		if err != nil {
			if !errors.Is(err, api.ErrBadModule) {
				t.Fatalf("compile error is not ErrBadModule: %v", err)
			}
			return
		}
		_ = m.Info()
		i, err := e.Instantiate(context.Background(), m, Spec{Name: "fuzz", Caps: limits(16, 100*time.Millisecond)})
		if err == nil {
			_ = i.Close(context.Background())
		}
		_ = m.Close(context.Background())
	})
}

// FuzzCustomSection checks the section scanner never panics and agrees with
// wazero on modules wazero accepts.
func FuzzCustomSection(f *testing.F) {
	f.Add(testwasm.Read(f, "counter"), "producers")
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x05\x01a123"), "a")
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\xff\xff\xff\xff\x0f"), "x")
	e, err := New(context.Background(), Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, wasm []byte, name string) {
		data, ok := CustomSection(wasm, name)
		m, err := e.Compile(context.Background(), wasm, CompileOptions{})
		if err != nil {
			return
		}
		defer m.Close(context.Background())
		want, wantOK := m.CustomSection(name)
		if ok != wantOK || !bytes.Equal(data, want) {
			t.Fatalf("scanner found %v %q, wazero %v %q", ok, data, wantOK, want)
		}
	})
}

// FuzzDecodeEnvelope: the envelope decoder never panics, and what it decodes
// encodes back to the same leading bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	e := Envelope{Kind: KindRequest, Subject: "demo.echo", Reply: "_inbox.x.1", From: "cli", Data: []byte("hello"), Blob: 7}
	buf := make([]byte, e.Size())
	e.Encode(buf)
	f.Add(buf)
	f.Add([]byte{})
	f.Add(make([]byte, EnvelopeHeader))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		out := make([]byte, env.Size())
		env.Encode(out)
		if !bytes.Equal(out, b[:len(out)]) {
			t.Fatalf("round trip differs:\n%x\n%x", out, b[:len(out)])
		}
	})
}
