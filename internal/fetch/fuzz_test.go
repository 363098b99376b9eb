package fetch

import (
	"errors"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
)

// FuzzParseRef checks that ParseRef never panics, fails only with
// api.ErrInvalid, sets exactly the fields of the scheme it reports, and that
// a valid reference reads back from its String form unchanged.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"hello.orbital.wasm", "/opt/x.wasm", "file:///opt/x.wasm", "file://localhost/x",
		"https://example.com/m.wasm", "http://127.0.0.1:8080/m?x=1#f", "https://u:p@h/",
		"oci://ghcr.io/acme/hello:1.0.0", "oci://localhost:5000/a/b@" + dgst,
		"oci://[::1]:5000/a:v1@" + dgst, "oci://r.io/hello", "oci://r.io/Hello:1", "oci://r.io",
		"ftp://x/y", "", "a\x00b", "oci://r.io/a@sha512:" + dgst[7:] + dgst[7:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("ParseRef(%q): %v does not wrap api.ErrInvalid", s, err)
			}
			if r != (Ref{}) {
				t.Fatalf("ParseRef(%q) failed but returned %+v", s, r)
			}
			return
		}
		switch r.Scheme {
		case SchemeFile:
			if r.Path == "" || r.URL != "" || r.Registry != "" || r.Repository != "" || r.Tag != "" || r.Digest != "" {
				t.Fatalf("ParseRef(%q) = %+v", s, r)
			}
		case SchemeHTTP, SchemeHTTPS:
			if r.URL != s || r.Path != "" || r.Registry != "" || r.Repository != "" || r.Tag != "" || r.Digest != "" {
				t.Fatalf("ParseRef(%q) = %+v", s, r)
			}
		case SchemeOCI:
			if r.Registry == "" || r.Repository == "" || r.Path != "" || r.URL != "" {
				t.Fatalf("ParseRef(%q) = %+v", s, r)
			}
			if err := r.reference().Validate(); err != nil {
				t.Fatalf("ParseRef(%q) = %+v, which oras refuses: %v", s, r, err)
			}
		default:
			t.Fatalf("ParseRef(%q): scheme %q", s, r.Scheme)
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %+v; its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
	})
}
