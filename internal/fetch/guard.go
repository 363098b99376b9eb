package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/orbitalfoundation/orbital/api"
)

// watchdog cancels a context when nothing happened on the wire for its idle
// duration: no request sent, no response received, no body byte read or
// written. Every such event kicks it.
type watchdog struct {
	idle   time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
}

// withTimeouts derives the context of one retrieval: it ends with cause
// overall after timeout and with cause idle after idle time without a kick.
// Call the returned watchdog's stop when done.
func withTimeouts(parent context.Context, timeout, idle time.Duration) (context.Context, *watchdog) {
	ctx, cancelTimeout := context.WithTimeoutCause(parent, timeout,
		fmt.Errorf("%w: not done within the overall timeout of %s", api.ErrTimeout, timeout))
	ctx, cancel := context.WithCancelCause(ctx)
	idleErr := fmt.Errorf("%w: nothing received for %s (idle timeout)", api.ErrTimeout, idle)
	w := &watchdog{idle: idle, cancel: func(cause error) { cancel(cause); cancelTimeout() }}
	w.timer = time.AfterFunc(idle, func() { cancel(idleErr) })
	return ctx, w
}

// kick restarts the idle period.
func (w *watchdog) kick() { w.timer.Reset(w.idle) }

// stop releases the watchdog and its contexts.
func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// kickReader kicks a watchdog on every read that returns data.
type kickReader struct {
	rc io.ReadCloser
	w  *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.rc.Read(p)
	if n > 0 {
		k.w.kick()
	}
	return n, err
}

func (k *kickReader) Close() error { return k.rc.Close() }

// guard is the transport under every request the package makes: it asks
// for and insists on an uncompressed response (no decompression bombs), and
// kicks the watchdog on every request, response and body read or write.
type guard struct {
	base http.RoundTripper
	w    *watchdog
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	g.w.kick()
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		r.Body = &kickReader{rc: req.Body, w: g.w}
	}
	// Asking for identity explicitly also keeps net/http from asking for
	// gzip and decompressing transparently.
	r.Header.Set("Accept-Encoding", "identity")
	resp, err := g.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	g.w.kick()
	if enc := contentEncoding(resp); enc != "" {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: the response is compressed (Content-Encoding: %s); only identity encoding is accepted", api.ErrInvalid, enc)
	}
	resp.Body = &kickReader{rc: resp.Body, w: g.w}
	return resp, nil
}

// contentEncoding returns the response's content codings other than
// identity, or "" if it is not encoded.
func contentEncoding(resp *http.Response) string {
	if resp.Uncompressed {
		return "gzip (decoded by the transport)"
	}
	var encs []string
	for _, v := range resp.Header.Values("Content-Encoding") {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "identity") {
				encs = append(encs, e)
			}
		}
	}
	return strings.Join(encs, ", ")
}

// client returns the HTTP client of one retrieval: opts' transport (cloned,
// with compression disabled and opts.TLSConfig applied) under a guard, and
// a redirect policy that follows at most MaxRedirects redirects and never to
// plain http unless allowHTTP. Call the returned function when done to close
// the clone's idle connections.
func (o *Options) client(w *watchdog, allowHTTP bool) (*http.Client, func()) {
	var base http.RoundTripper = http.DefaultTransport
	var jar http.CookieJar
	if o.HTTPClient != nil {
		jar = o.HTTPClient.Jar
		if o.HTTPClient.Transport != nil {
			base = o.HTTPClient.Transport
		}
	}
	done := func() {}
	if t, ok := base.(*http.Transport); ok {
		t = t.Clone()
		t.DisableCompression = true
		if o.TLSConfig != nil {
			t.TLSClientConfig = o.TLSConfig.Clone()
		}
		base, done = t, t.CloseIdleConnections
	}
	return &http.Client{
		Transport:     &guard{base: base, w: w},
		Jar:           jar,
		CheckRedirect: redirectPolicy(allowHTTP),
	}, done
}

// redirectPolicy follows at most MaxRedirects redirects, and only to https
// (or http when allowHTTP).
func redirectPolicy(allowHTTP bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > MaxRedirects {
			return fmt.Errorf("%w: more than %d redirects", api.ErrInvalid, MaxRedirects)
		}
		if s := req.URL.Scheme; s != "https" && (s != "http" || !allowHTTP) {
			return fmt.Errorf("%w: redirect from %s to %s leaves HTTPS", api.ErrPermissionDenied, redact(via[len(via)-1].URL), redact(req.URL))
		}
		return nil
	}
}

// classes are the api error classes, in the order classify looks for them.
var classes = []error{
	api.ErrTimeout, api.ErrTooLarge, api.ErrNotFound, api.ErrPermissionDenied,
	api.ErrInvalid, api.ErrBadModule, api.ErrBadManifest, api.ErrFailed,
}

// classify makes err, which happened while ctx was in use, wrap one api
// class: the cause of ctx if it ended (a timeout, the caller's
// cancellation), else the class err already wraps, else one derived from
// oras and net/http errors.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		switch {
		case errors.Is(cause, api.ErrTimeout):
			return cause
		case errors.Is(cause, context.DeadlineExceeded):
			return fmt.Errorf("%w: %w", api.ErrTimeout, cause)
		default:
			return cause // the caller cancelled: context.Canceled
		}
	}
	for _, c := range classes {
		if errors.Is(err, c) {
			return err
		}
	}
	var resp *errcode.ErrorResponse
	var uerr *url.Error
	var nerr net.Error
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%w: %w (set credentials for the registry)", api.ErrPermissionDenied, err)
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	case errors.As(err, &resp):
		return fmt.Errorf("%w: %w", statusClass(resp.StatusCode), err)
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errdef.ErrInvalidReference):
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	case errors.As(err, &uerr), errors.As(err, &nerr):
		return fmt.Errorf("%w: %w", api.ErrFailed, err)
	}
	return fmt.Errorf("%w: %w", api.ErrInvalid, err)
}

// statusClass returns the api class of an HTTP error status.
func statusClass(code int) error {
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		return api.ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return api.ErrPermissionDenied
	case code == http.StatusRequestEntityTooLarge:
		return api.ErrTooLarge
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return api.ErrFailed
	}
	return api.ErrInvalid
}
