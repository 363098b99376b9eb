package fetch

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"

	"github.com/orbitalfoundation/orbital/api"
)

// Scheme says where a Ref points and therefore how it is retrieved.
type Scheme string

// Schemes of references.
const (
	SchemeFile  Scheme = "file"  // a local file
	SchemeHTTPS Scheme = "https" // an HTTPS URL
	SchemeHTTP  Scheme = "http"  // a plain-HTTP URL; refused unless Options.AllowHTTP
	SchemeOCI   Scheme = "oci"   // an artifact in an OCI registry
)

// Ref is a parsed reference to a package. Exactly the fields of its Scheme
// are set.
type Ref struct {
	// Scheme says which of the fields below are set.
	Scheme Scheme
	// Path is the file (SchemeFile): as written for a plain path, the
	// decoded URL path for a file:// URL.
	Path string
	// URL is the URL as written (SchemeHTTPS, SchemeHTTP).
	URL string
	// Registry is host[:port] of the OCI registry (SchemeOCI).
	Registry string
	// Repository is the repository inside the registry (SchemeOCI).
	Repository string
	// Tag is the tag, if one was written (SchemeOCI).
	Tag string
	// Digest is the manifest digest ("sha256:…"), if one was written
	// (SchemeOCI). When both are set the digest decides what is pulled.
	Digest string
}

// String returns the reference in a form ParseRef reads back to the same
// Ref.
// Redacted is String without an HTTP URL's query and fragment (a
// pre-signed URL carries its credential there): what logs may show.
func (r Ref) Redacted() string {
	s := r.String()
	if r.Scheme == SchemeHTTP || r.Scheme == SchemeHTTPS {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i] + "?…"
		}
	}
	return s
}

func (r Ref) String() string {
	switch r.Scheme {
	case SchemeFile:
		return r.Path
	case SchemeHTTP, SchemeHTTPS:
		return r.URL
	case SchemeOCI:
		s := "oci://" + r.Registry + "/" + r.Repository
		if r.Tag != "" {
			s += ":" + r.Tag
		}
		if r.Digest != "" {
			s += "@" + r.Digest
		}
		return s
	}
	return ""
}

// reference returns r as an oras reference (SchemeOCI): the digest if there
// is one, else the tag.
func (r Ref) reference() registry.Reference {
	ref := registry.Reference{Registry: r.Registry, Repository: r.Repository, Reference: r.Tag}
	if r.Digest != "" {
		ref.Reference = r.Digest
	}
	return ref
}

// schemeRE matches a URL scheme followed by "://".
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// maxRefLen bounds a reference (a path or URL longer than this is a
// mistake, not a package).
const maxRefLen = 4096

// ParseRef parses a package reference:
//
//   - a local path ("build/hello.orbital.wasm", "/opt/m.wasm") or a file://
//     URL ("file:///opt/m.wasm"; host empty or "localhost");
//   - an https:// (or http://) URL; user:password@ in the URL is refused
//     (credentials would end up in logs and in the install record);
//   - an OCI reference "oci://host[:port]/repo[:tag][@sha256:…]"; the
//     repository, tag and digest follow the OCI distribution grammar.
//
// A string that starts with any other SCHEME:// is refused rather than
// taken as a path. Errors wrap api.ErrInvalid; no input makes it panic.
func ParseRef(s string) (Ref, error) {
	switch {
	case s == "":
		return Ref{}, fmt.Errorf("reference: %w: empty", api.ErrInvalid)
	case len(s) > maxRefLen:
		return Ref{}, fmt.Errorf("reference: %w: longer than %d bytes", api.ErrInvalid, maxRefLen)
	case strings.ContainsRune(s, 0):
		return Ref{}, fmt.Errorf("reference %q: %w: contains a NUL byte", s, api.ErrInvalid)
	}
	m := schemeRE.FindString(s)
	if m == "" {
		return Ref{Scheme: SchemeFile, Path: s}, nil
	}
	switch scheme := strings.ToLower(strings.TrimSuffix(m, "://")); scheme {
	case "oci":
		return parseOCI(s, s[len(m):])
	case "https", "http":
		return parseHTTP(s, Scheme(scheme))
	case "file":
		return parseFileURL(s)
	default:
		return Ref{}, fmt.Errorf("reference %q: %w: unsupported scheme %q (use a path, file://, https:// or oci://)", s, api.ErrInvalid, scheme)
	}
}

func parseHTTP(s string, scheme Scheme) (Ref, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Ref{}, fmt.Errorf("reference %q: %w: %w", s, api.ErrInvalid, err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return Ref{}, fmt.Errorf("reference %q: %w: no host", s, api.ErrInvalid)
	}
	if u.User != nil {
		return Ref{}, fmt.Errorf("reference %q: %w: credentials in the URL are not accepted", redact(u), api.ErrInvalid)
	}
	return Ref{Scheme: scheme, URL: s}, nil
}

// redact returns u without its user information, for error messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

func parseFileURL(s string) (Ref, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Ref{}, fmt.Errorf("reference %q: %w: %w", s, api.ErrInvalid, err)
	}
	switch {
	case u.Host != "" && u.Host != "localhost":
		return Ref{}, fmt.Errorf("reference %q: %w: a file URL names a local file (file:///path), not host %q", s, api.ErrInvalid, u.Host)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return Ref{}, fmt.Errorf("reference %q: %w: a file URL is file:///absolute/path", s, api.ErrInvalid)
	case !strings.HasPrefix(u.Path, "/"):
		return Ref{}, fmt.Errorf("reference %q: %w: a file URL needs an absolute path", s, api.ErrInvalid)
	case strings.ContainsRune(u.Path, 0):
		return Ref{}, fmt.Errorf("reference %q: %w: contains a NUL byte", s, api.ErrInvalid)
	}
	return Ref{Scheme: SchemeFile, Path: u.Path}, nil
}

func parseOCI(s, rest string) (Ref, error) {
	host, path, ok := strings.Cut(rest, "/")
	if !ok || host == "" || path == "" {
		return Ref{}, fmt.Errorf("reference %q: %w: want oci://host[:port]/repository[:tag][@digest]", s, api.ErrInvalid)
	}
	r := Ref{Scheme: SchemeOCI, Registry: host}
	if p, d, ok := strings.Cut(path, "@"); ok {
		path = p
		if _, err := digest.Parse(d); err != nil {
			return Ref{}, fmt.Errorf("reference %q: %w: digest %q: %w", s, api.ErrInvalid, d, err)
		}
		r.Digest = d
	}
	if p, tag, ok := strings.Cut(path, ":"); ok {
		path = p
		if err := (registry.Reference{Reference: tag}).ValidateReferenceAsTag(); err != nil || tag == "" {
			return Ref{}, fmt.Errorf("reference %q: %w: tag %q: want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", s, api.ErrInvalid, tag)
		}
		r.Tag = tag
	}
	r.Repository = path
	ref := registry.Reference{Registry: r.Registry, Repository: r.Repository}
	if err := ref.ValidateRegistry(); err != nil {
		return Ref{}, fmt.Errorf("reference %q: %w: registry %q is not host[:port]", s, api.ErrInvalid, host)
	}
	if err := ref.ValidateRepository(); err != nil {
		return Ref{}, fmt.Errorf("reference %q: %w: repository %q: lowercase path components of [a-z0-9] separated by '.', '_', '__' or '-'", s, api.ErrInvalid, path)
	}
	return r, nil
}
