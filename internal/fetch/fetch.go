// Package fetch retrieves packages for installation: from a local file, an
// HTTPS URL or an OCI registry, and publishes them to OCI registries.
//
// Every retrieval is bounded: at most Options.MaxSize bytes are accepted
// (checked against Content-Length or the OCI descriptor before the body is
// read, and counted while streaming, so no more than MaxSize+1 bytes are ever
// buffered), the whole retrieval ends after Options.Timeout, and a transfer
// that delivers nothing for Options.IdleTimeout is aborted. Responses must be
// uncompressed (no decompression bombs), redirects are followed at most
// MaxRedirects times and never from HTTPS to plain HTTP. The sha256 of the
// bytes is computed while they stream and compared with
// Options.ExpectDigest when one is given.
//
// An Orbital module in an OCI registry is an artifact (image manifest, OCI
// image-spec v1.1) with artifactType ArtifactType, the module's manifest TOML
// as its config blob (ManifestMediaType) and exactly one layer: the package
// bytes, media type WasmMediaType. Push publishes one; Fetch of an oci://
// reference pulls one, refusing any other artifact, and verifies the layer
// against its descriptor's size and digest.
//
// Fetch does not open the package or check its signatures: the installer
// does (package pack), on the bytes Fetch returns.
package fetch

import (
	"context"
	"crypto/sha256"
	_ "crypto/sha512" // sha512 digests in OCI references and descriptors
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// Defaults and fixed limits.
const (
	// DefaultMaxSize is the largest package accepted when Options.MaxSize
	// is zero.
	DefaultMaxSize = 64 << 20
	// DefaultTimeout bounds a whole retrieval when Options.Timeout is zero.
	DefaultTimeout = 2 * time.Minute
	// DefaultIdleTimeout is how long a transfer may deliver nothing when
	// Options.IdleTimeout is zero.
	DefaultIdleTimeout = 30 * time.Second
	// MaxRedirects is the most HTTP redirects followed for one request.
	MaxRedirects = 5
)

// Options bound and configure a retrieval. The zero value is ready to use:
// 64 MiB, 2 min overall, 30 s idle, HTTPS only, the system's TLS roots.
type Options struct {
	// MaxSize is the largest package accepted, in bytes (0: DefaultMaxSize).
	// Bigger is refused with api.ErrTooLarge. Push refuses to publish a
	// bigger package, too.
	MaxSize int64
	// Timeout bounds the whole retrieval (0: DefaultTimeout).
	Timeout time.Duration
	// IdleTimeout aborts a retrieval when nothing is sent or received for
	// this long: no connection, no response headers, no body bytes
	// (0: DefaultIdleTimeout).
	IdleTimeout time.Duration
	// ExpectDigest, if set, is the sha256 the bytes must have: 64 hex
	// digits, optionally prefixed "sha256:". A mismatch is api.ErrInvalid.
	ExpectDigest string
	// HTTPClient supplies the transport (for example the client of an
	// httptest.NewTLSServer) and cookie jar; its redirect policy and
	// timeout are not used. Nil means http.DefaultTransport. An
	// *http.Transport is cloned with compression disabled.
	HTTPClient *http.Client
	// TLSConfig, if set, replaces the TLS configuration of the transport
	// (custom roots, client certificates).
	TLSConfig *tls.Config
	// AllowHTTP accepts http:// URLs and redirects to http://, for tests
	// and development. Never set it for a device fetching over a network.
	AllowHTTP bool
	// PlainHTTP talks to OCI registries over plain HTTP, for tests and
	// local development registries.
	PlainHTTP bool
	// Credential, if set, returns the username and password (or token) for
	// an OCI registry host[:port]; an empty username and password means
	// anonymous. Nil means anonymous access.
	Credential func(ctx context.Context, host string) (username, password string, err error)
	// Logger receives a debug record per retrieval (nil: slog.Default()).
	Logger *slog.Logger
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Result is a retrieved package.
type Result struct {
	// Data are the bytes retrieved, at most Options.MaxSize of them.
	Data []byte
	// Digest is the sha256 of Data in lowercase hex, computed while the
	// bytes streamed in. (The package digest of package pack, which leaves
	// out signature sections, is a different value.)
	Digest string
	// Source is the reference retrieved, as Ref.String gives it.
	Source string
	// MediaType is the media type of Data: the Content-Type of an HTTP
	// response (without parameters), WasmMediaType for an OCI layer,
	// "application/wasm" for a local .wasm file; "" when unknown.
	MediaType string
	// ManifestDigest is the digest of the OCI manifest the reference
	// resolved to ("sha256:…"; OCI only). Pulling Registry/Repository@
	// ManifestDigest again gets the same bytes.
	ManifestDigest string
}

// Fetch retrieves the package that ref names (see ParseRef): a local file,
// an https:// URL (http:// only with opts.AllowHTTP) or an OCI reference
// (oci://host/repo:tag or oci://host/repo@sha256:…; a tag or digest is
// required). Errors name ref and wrap an api class: api.ErrInvalid (bad
// reference, digest mismatch, a response that is compressed or not an
// Orbital module), api.ErrNotFound, api.ErrTooLarge, api.ErrTimeout (idle or
// overall timeout), api.ErrPermissionDenied (plain HTTP refused, HTTP 401 and
// 403), api.ErrFailed (network errors, HTTP 5xx). When ctx is cancelled the
// error wraps ctx's error.
func Fetch(ctx context.Context, ref string, opts Options) (*Result, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	opts = opts.withDefaults()
	var want string
	if opts.ExpectDigest != "" {
		if want, err = parseHexDigest(opts.ExpectDigest); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", r, err)
		}
	}
	start := time.Now()
	var res *Result
	switch r.Scheme {
	case SchemeFile:
		res, err = fetchFile(ctx, r, opts)
	case SchemeHTTP, SchemeHTTPS:
		res, err = fetchHTTP(ctx, r, opts)
	case SchemeOCI:
		res, err = pull(ctx, r, opts)
	}
	if err != nil {
		opts.Logger.Debug("fetch failed", "ref", r.Redacted(), "err", err)
		return nil, fmt.Errorf("fetch %s: %w", r, err)
	}
	res.Source = r.String()
	if want != "" && res.Digest != want {
		return nil, fmt.Errorf("fetch %s: %w: digest mismatch: got sha256:%s, expected sha256:%s", r, api.ErrInvalid, res.Digest, want)
	}
	opts.Logger.Debug("fetched", "ref", r.Redacted(), "bytes", len(res.Data), "sha256", res.Digest,
		"manifest", res.ManifestDigest, "elapsed", time.Since(start))
	return res, nil
}

// parseHexDigest returns the lowercase hex of a "sha256:HEX" or "HEX"
// digest.
func parseHexDigest(s string) (string, error) {
	h := strings.ToLower(strings.TrimPrefix(s, "sha256:"))
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%w: expected digest %q is not a sha256 (64 hex digits, optionally prefixed sha256:)", api.ErrInvalid, s)
	}
	return h, nil
}

// fetchFile reads a local file.
func fetchFile(ctx context.Context, r Ref, opts Options) (*Result, error) {
	f, err := os.Open(r.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", api.ErrNotFound, err)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("%w: %w", api.ErrPermissionDenied, err)
		}
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", api.ErrInvalid, r.Path, st.Mode().Type())
	}
	if st.Size() > opts.MaxSize {
		return nil, tooLarge(st.Size(), opts.MaxSize)
	}
	data, sum, err := readCapped(ctxReader{ctx, f}, opts.MaxSize, st.Size())
	if err != nil {
		if ctx.Err() != nil {
			return nil, classify(ctx, err)
		}
		return nil, err
	}
	return &Result{Data: data, Digest: sum, MediaType: mime.TypeByExtension(filepath.Ext(r.Path))}, nil
}

// ctxReader fails reads once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fetchHTTP gets an http(s) URL.
func fetchHTTP(parent context.Context, r Ref, opts Options) (*Result, error) {
	if r.Scheme == SchemeHTTP && !opts.AllowHTTP {
		return nil, fmt.Errorf("%w: plain http is not accepted; use https:// (Options.AllowHTTP is for tests and development)", api.ErrPermissionDenied)
	}
	ctx, w := withTimeouts(parent, opts.Timeout, opts.IdleTimeout)
	defer w.stop()
	client, done := opts.client(w, opts.AllowHTTP)
	defer done()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	req.Header.Set("Accept", "application/wasm, application/octet-stream;q=0.9, */*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %s", statusClass(resp.StatusCode), resp.Status)
	}
	if resp.ContentLength > opts.MaxSize {
		return nil, tooLarge(resp.ContentLength, opts.MaxSize)
	}
	data, sum, err := readCapped(resp.Body, opts.MaxSize, resp.ContentLength)
	if err == nil {
		// A request cancelled mid-body can still end in a clean EOF: net/http
		// closes the connection with a TLS close_notify, the server's handler
		// sees its request end and terminates a chunked body properly, and
		// that last chunk may arrive first. The bytes are then a truncation
		// that looks complete; never accept them.
		err = ctx.Err()
	}
	if err != nil {
		return nil, classify(ctx, err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return &Result{Data: data, Digest: sum, MediaType: mt}, nil
}

// tooLarge is the error for size bytes over the limit.
func tooLarge(size, limit int64) error {
	return fmt.Errorf("%w: %d bytes, the limit is %d", api.ErrTooLarge, size, limit)
}

// readCapped reads r to EOF and returns the bytes and their sha256 in hex.
// More than limit bytes is api.ErrTooLarge; it never holds more than
// limit+1 bytes. hint is the expected size (-1 or 0 if unknown).
func readCapped(r io.Reader, limit, hint int64) ([]byte, string, error) {
	const chunk = 64 << 10
	size := int64(chunk)
	if hint > 0 {
		size = hint + 1 // room to see EOF without growing
	}
	size = min(size, limit+1)
	buf := make([]byte, 0, size)
	h := sha256.New()
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, "", fmt.Errorf("%w: more than %d bytes", api.ErrTooLarge, limit)
			}
			nb := make([]byte, len(buf), min(int64(2*cap(buf))+chunk, limit+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		h.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, "", fmt.Errorf("%w: more than %d bytes", api.ErrTooLarge, limit)
		}
		if err == io.EOF {
			return buf, hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return nil, "", err
		}
	}
}
