package fetch

import (
	"errors"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
)

const dgst = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Ref
		err  string // substring of the error; "" means valid
	}{
		{in: "hello.orbital.wasm", want: Ref{Scheme: SchemeFile, Path: "hello.orbital.wasm"}},
		{in: "/opt/m/x.wasm", want: Ref{Scheme: SchemeFile, Path: "/opt/m/x.wasm"}},
		{in: "./a:b@c", want: Ref{Scheme: SchemeFile, Path: "./a:b@c"}},
		{in: "file:///opt/m%20x.wasm", want: Ref{Scheme: SchemeFile, Path: "/opt/m x.wasm"}},
		{in: "FILE://localhost/x", want: Ref{Scheme: SchemeFile, Path: "/x"}},
		{in: "file://host/x", err: "not host"},
		{in: "file://", err: "absolute path"},
		{in: "file:///x?y", err: "file:///absolute/path"},
		{in: "https://example.com/m.wasm", want: Ref{Scheme: SchemeHTTPS, URL: "https://example.com/m.wasm"}},
		{in: "HTTPS://example.com:8443/a?b=c", want: Ref{Scheme: SchemeHTTPS, URL: "HTTPS://example.com:8443/a?b=c"}},
		{in: "http://127.0.0.1:80/m", want: Ref{Scheme: SchemeHTTP, URL: "http://127.0.0.1:80/m"}},
		{in: "https://user:secret@example.com/m", err: "credentials"},
		{in: "https:///m", err: "no host"},
		{in: "https://exa mple.com/", err: "invalid"},
		{in: "oci://ghcr.io/acme/hello:1.0.0", want: Ref{Scheme: SchemeOCI, Registry: "ghcr.io", Repository: "acme/hello", Tag: "1.0.0"}},
		{in: "oci://localhost:5000/hello@" + dgst, want: Ref{Scheme: SchemeOCI, Registry: "localhost:5000", Repository: "hello", Digest: dgst}},
		{in: "oci://[::1]:5000/a/b/c:v1@" + dgst, want: Ref{Scheme: SchemeOCI, Registry: "[::1]:5000", Repository: "a/b/c", Tag: "v1", Digest: dgst}},
		{in: "oci://r.io/hello", want: Ref{Scheme: SchemeOCI, Registry: "r.io", Repository: "hello"}},
		{in: "oci://r.io/Hello:1", err: "repository"},
		{in: "oci://r.io/hello:", err: "tag"},
		{in: "oci://r.io/hello:-x", err: "tag"},
		{in: "oci://r.io/hello:" + strings.Repeat("x", 129), err: "tag"},
		{in: "oci://r.io/hello@sha256:abc", err: "digest"},
		{in: "oci://r.io/hello@md5:d41d8cd98f00b204e9800998ecf8427e", err: "digest"},
		{in: "oci://r.io", err: "want oci://"},
		{in: "oci:///hello:1", err: "want oci://"},
		{in: "oci://u@r.io/hello:1", err: "registry"},
		{in: "ftp://example.com/m", err: "unsupported scheme"},
		{in: "", err: "empty"},
		{in: "a\x00b", err: "NUL"},
		{in: strings.Repeat("a", maxRefLen+1), err: "longer"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseRef(c.in)
			if c.err != "" {
				if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseRef(%q) = %+v, %v; want an invalid error saying %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("ParseRef(%q) = %+v, want %+v", c.in, got, c.want)
			}
			again, err := ParseRef(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseRef(%q.String() = %q) = %+v, %v", c.in, got.String(), again, err)
			}
		})
	}
}

// TestRefRedacted: logs never show an HTTP URL's query or fragment (where a
// pre-signed URL keeps its credential); other references are unchanged.
func TestRefRedacted(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://example.com/m.orbital.wasm", "https://example.com/m.orbital.wasm"},
		{"https://example.com/m.wasm?X-Amz-Signature=secret&x=1", "https://example.com/m.wasm?…"},
		{"https://example.com/m.wasm#frag", "https://example.com/m.wasm?…"},
		{"oci://registry.example.com/demo/kv:1.0.0", "oci://registry.example.com/demo/kv:1.0.0"},
		{"./m.orbital.wasm", "./m.orbital.wasm"},
	} {
		r, err := ParseRef(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := r.Redacted(); got != tc.want || strings.Contains(got, "secret") {
			t.Errorf("Redacted(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
