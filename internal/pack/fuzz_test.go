package pack

import (
	"bytes"
	"errors"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
)

// FuzzOpen: no input makes Open (or Verify, Sign, Pack on what it accepts)
// panic; every error has a class; and what Open accepts round-trips: it
// re-packs to a package with the same manifest, which packs again to the
// same bytes, and a signature made on it verifies.
func FuzzOpen(f *testing.F) {
	alice := fixedKey("alice", 1)
	pkg := packed(f, helloTOML)
	signed := mustSign(f, mustSign(f, pkg, alice), fixedKey("bob", 2))
	for _, seed := range [][]byte{
		nil,
		[]byte(header),
		module(),
		pkg,
		signed,
		append(bytes.Clone(pkg), custom(SignatureSection, []byte(`{"algorithm":"ed25519"}`))...),
		append(bytes.Clone(pkg), custom(ManifestSection, []byte(visionTOML))...),
		append([]byte(header), 0x00, 0x85, 0x80, 0x80, 0x80, 0x00, 0x00),
	} {
		f.Add(seed)
	}
	pol := DefaultPolicy()
	if err := pol.Trust("alice", alice.Public(), "*"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Open(data)
		if err != nil {
			if !errors.Is(err, api.ErrBadModule) && !errors.Is(err, api.ErrBadManifest) {
				t.Fatalf("Open error without a class: %v", err)
			}
			return
		}
		if p.Manifest == nil || p.Size != len(data) || p.WasmSize > p.Size || len(p.Signatures) > MaxSignatures {
			t.Fatalf("package %+v", p)
		}
		secs, err := walk(data)
		if err != nil {
			t.Fatal(err)
		}
		if p.Digest != digestOf(data, secs) {
			t.Fatal("digest differs from a second computation")
		}
		if v, err := pol.Verify(p); err == nil && !v.Accepted {
			t.Fatalf("no error but not accepted: %+v", v)
		} else if err != nil && !errors.Is(err, api.ErrPermissionDenied) {
			t.Fatalf("Verify of an opened package: %v", err)
		}

		repacked, m, err := PackWith(data, p.ManifestTOML, Options{})
		if err != nil {
			t.Fatalf("re-pack with its own manifest: %v", err)
		}
		q, err := Open(repacked)
		if err != nil {
			t.Fatalf("re-packed package does not open: %v", err)
		}
		if q.Signed() || q.Manifest.String() != m.String() || !bytes.Equal(q.ManifestTOML, p.ManifestTOML) {
			t.Fatalf("re-packed %s (signed %v), want %s unsigned", q.Manifest, q.Signed(), p.Manifest)
		}
		again, _, err := Pack(repacked, p.ManifestTOML)
		if err != nil || !bytes.Equal(again, repacked) {
			t.Fatalf("packing is not idempotent: %v", err)
		}
		s, err := Sign(repacked, alice)
		if err != nil {
			t.Fatalf("sign a re-packed package: %v", err)
		}
		if v, err := pol.Verify(mustOpen(t, s)); err != nil || !v.Accepted {
			t.Fatalf("signed by a trusted key, refused: %v", err)
		}
	})
}
