package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// quiet is a logger that drops everything (the tests check results, not
// log lines).
var quiet = slog.New(slog.DiscardHandler)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// payload returns n deterministic bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// until blocks until the request is cancelled (the client gave up) or the
// test's bound passes.
func until(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(20 * time.Second):
	}
}

// tlsServer starts an HTTPS server and returns its URL and options whose
// HTTPClient trusts it.
func tlsServer(t *testing.T, h http.Handler) (string, Options) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case makes the server log
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, Options{HTTPClient: srv.Client(), Logger: quiet}
}

func TestFetchHTTPS(t *testing.T) {
	body := payload(100_000)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	t.Cleanup(plain.Close)

	mux := http.NewServeMux()
	mux.HandleFunc("/ok.wasm", func(w http.ResponseWriter, r *http.Request) {
		if ae := r.Header.Get("Accept-Encoding"); ae != "identity" {
			t.Errorf("Accept-Encoding %q, want identity", ae)
		}
		w.Header().Set("Content-Type", "application/wasm; charset=binary")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(body); i += 10_000 {
			w.Write(body[i : i+10_000])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big-length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		until(r)
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		chunk := payload(32 << 10)
		for range 1 << 10 { // 32 MiB unless the client hangs up first
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write(body[:10])
		w.(http.Flusher).Flush()
		until(r)
	})
	mux.HandleFunc("/stall-headers", func(w http.ResponseWriter, r *http.Request) { until(r) })
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		for i := range 25 { // 25 × 50 ms: longer than the idle timeout in total, never idle for it
			w.Write(body[i*10 : i*10+10])
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})
	mux.HandleFunc("/trickle-forever", func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			w.Write([]byte{1})
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(make([]byte, 1<<20)) // a small bomb: 1 MiB of zeros
		zw.Close()
	})
	mux.HandleFunc("/identity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "identity")
		w.Write(body)
	})
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/x.wasm", http.StatusFound)
	})
	mux.HandleFunc("/to-ok", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok.wasm", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			w.Write(body)
			return
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
	})
	mux.HandleFunc("/forbidden", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusBadGateway) })
	base, tlsOpts := tlsServer(t, mux)

	type tc struct {
		name    string
		ref     string
		opts    func(*Options)
		want    []byte
		wantErr error
		msg     string        // in the error message
		within  time.Duration // the failure comes this fast
	}
	small := func(o *Options) { o.MaxSize = 50_000 }
	idle := func(o *Options) { o.IdleTimeout = 200 * time.Millisecond }
	for _, c := range []tc{
		{name: "ok", ref: base + "/ok.wasm", want: body},
		{name: "chunked", ref: base + "/chunked", want: body},
		{name: "exactly the limit", ref: base + "/ok.wasm", opts: func(o *Options) { o.MaxSize = int64(len(body)) }, want: body},
		{name: "content-length over the limit", ref: base + "/ok.wasm", opts: small, wantErr: api.ErrTooLarge, msg: "100000 bytes, the limit is 50000"},
		{name: "huge content-length", ref: base + "/big-length", wantErr: api.ErrTooLarge, within: 5 * time.Second},
		{name: "chunked over the limit", ref: base + "/chunked", opts: small, wantErr: api.ErrTooLarge, msg: "more than 50000 bytes"},
		{name: "endless chunked", ref: base + "/big-chunked", opts: func(o *Options) { o.MaxSize = 1 << 20 }, wantErr: api.ErrTooLarge},
		{name: "stalled body", ref: base + "/stall-body", opts: idle, wantErr: api.ErrTimeout, msg: "idle timeout", within: 5 * time.Second},
		{name: "stalled headers", ref: base + "/stall-headers", opts: idle, wantErr: api.ErrTimeout, msg: "idle timeout", within: 5 * time.Second},
		{name: "slow but steady", ref: base + "/trickle", opts: func(o *Options) { o.IdleTimeout = 500 * time.Millisecond }, want: body[:250]},
		{name: "overall timeout", ref: base + "/trickle-forever", opts: func(o *Options) { o.Timeout = 300 * time.Millisecond }, wantErr: api.ErrTimeout, msg: "overall timeout", within: 5 * time.Second},
		{name: "gzip refused", ref: base + "/gzip", wantErr: api.ErrInvalid, msg: "Content-Encoding: gzip"},
		{name: "identity encoding", ref: base + "/identity", want: body},
		{name: "redirect to http refused", ref: base + "/to-http", wantErr: api.ErrPermissionDenied, msg: "leaves HTTPS"},
		{name: "redirect to http allowed", ref: base + "/to-http", opts: func(o *Options) { o.AllowHTTP = true }, want: body},
		{name: "redirect to https", ref: base + "/to-ok", want: body},
		{name: "five redirects", ref: base + "/hop/5", want: body},
		{name: "six redirects", ref: base + "/hop/6", wantErr: api.ErrInvalid, msg: "more than 5 redirects"},
		{name: "digest matches", ref: base + "/ok.wasm", opts: func(o *Options) { o.ExpectDigest = "sha256:" + strings.ToUpper(sum(body)) }, want: body},
		{name: "digest mismatch", ref: base + "/ok.wasm", opts: func(o *Options) { o.ExpectDigest = sum(nil) }, wantErr: api.ErrInvalid,
			msg: "got sha256:" + sum(body) + ", expected sha256:" + sum(nil)},
		{name: "bad expected digest", ref: base + "/ok.wasm", opts: func(o *Options) { o.ExpectDigest = "md5:abc" }, wantErr: api.ErrInvalid, msg: "not a sha256"},
		{name: "not found", ref: base + "/nope.wasm", wantErr: api.ErrNotFound, msg: "404"},
		{name: "forbidden", ref: base + "/forbidden", wantErr: api.ErrPermissionDenied, msg: "403"},
		{name: "server error", ref: base + "/broken", wantErr: api.ErrFailed, msg: "502"},
		{name: "plain http refused", ref: plain.URL + "/x.wasm", wantErr: api.ErrPermissionDenied, msg: "plain http"},
		{name: "plain http allowed", ref: plain.URL + "/x.wasm", opts: func(o *Options) { o.AllowHTTP = true }, want: body},
		{name: "untrusted certificate", ref: base + "/ok.wasm", opts: func(o *Options) { o.HTTPClient = nil }, wantErr: api.ErrFailed, msg: "certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := tlsOpts
			if c.opts != nil {
				c.opts(&opts)
			}
			start := time.Now()
			res, err := Fetch(context.Background(), c.ref, opts)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				t.Log(err)
				if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.ref) {
					t.Errorf("err = %q, want it to name the ref and say %q", err, c.msg)
				}
				if c.within > 0 && time.Since(start) > c.within {
					t.Errorf("failed after %s, want within %s", time.Since(start), c.within)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Data, c.want) || res.Digest != sum(c.want) || res.Source != c.ref {
				t.Errorf("got %d bytes, digest %s, source %s; want %d bytes, %s, %s", len(res.Data), res.Digest, res.Source, len(c.want), sum(c.want), c.ref)
			}
		})
	}
}

func TestFetchHTTPSMediaType(t *testing.T) {
	body := payload(10)
	base, opts := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm; charset=binary")
		w.Write(body)
	}))
	res, err := Fetch(context.Background(), base+"/m.wasm", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.MediaType != "application/wasm" || res.ManifestDigest != "" {
		t.Errorf("media type %q, manifest digest %q", res.MediaType, res.ManifestDigest)
	}
}

func TestFetchCancel(t *testing.T) {
	started := make(chan struct{})
	base, opts := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		close(started)
		until(r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := Fetch(ctx, base+"/m.wasm", opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	// A deadline of the caller's own is a timeout, too.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	started = make(chan struct{})
	_, err = Fetch(ctx, base+"/m.wasm", opts)
	if !errors.Is(err, api.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want api.ErrTimeout and context.DeadlineExceeded", err)
	}
}

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	body := payload(5000)
	path := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		ref     string
		max     int64
		wantErr error
	}{
		{name: "path", ref: path},
		{name: "file URL", ref: "file://" + path},
		{name: "file URL localhost", ref: "file://localhost" + path},
		{name: "too large", ref: path, max: 4999, wantErr: api.ErrTooLarge},
		{name: "missing", ref: filepath.Join(dir, "nope.wasm"), wantErr: api.ErrNotFound},
		{name: "directory", ref: dir, wantErr: api.ErrInvalid},
		{name: "remote file URL", ref: "file://example.com" + path, wantErr: api.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Fetch(context.Background(), c.ref, Options{MaxSize: c.max, Logger: quiet})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Data, body) || res.Digest != sum(body) || res.MediaType != "application/wasm" {
				t.Errorf("got %d bytes, digest %s, media type %q", len(res.Data), res.Digest, res.MediaType)
			}
		})
	}
}

// TestReadCapped checks the buffer bound: never more than limit+1 bytes,
// whatever the size hint says.
func TestReadCapped(t *testing.T) {
	body := payload(300_000)
	for _, c := range []struct {
		name      string
		n         int
		limit     int64
		hint      int64
		tooLarge  bool
		maxBuffer int
	}{
		{name: "unknown size", n: 300_000, limit: 1 << 20, hint: -1},
		{name: "exact hint", n: 300_000, limit: 1 << 20, hint: 300_000},
		{name: "at the limit", n: 300_000, limit: 300_000, hint: -1},
		{name: "over the limit", n: 300_000, limit: 299_999, hint: -1, tooLarge: true},
		{name: "lying hint", n: 300_000, limit: 100_000, hint: 10, tooLarge: true},
		{name: "empty", n: 0, limit: 10, hint: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, digest, err := readCapped(bytes.NewReader(body[:c.n]), c.limit, c.hint)
			if c.tooLarge {
				if !errors.Is(err, api.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, body[:c.n]) || digest != sum(body[:c.n]) {
				t.Fatal("wrong bytes or digest")
			}
			if int64(cap(data)) > c.limit+1 {
				t.Errorf("buffer of %d bytes, limit %d", cap(data), c.limit)
			}
		})
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestReadCappedError(t *testing.T) {
	if _, _, err := readCapped(errReader{}, 10, -1); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("err = %v", err)
	}
}
