// Package control is the node's local control API: JSON over HTTP on a
// loopback address, every request authenticated with a bearer token. The
// node writes its address and token to $ORBITAL_HOME/node.json (mode 0600),
// so the CLI on the same machine finds it with no flags and nobody else can
// use it. Routes (all under /api/v1/):
//
//	GET  processes                      the process table
//	POST processes/{name}/{stop|restart|kill}
//	POST bus/publish  {"subject","data"}
//	POST bus/send     {"to","data"}
//	POST bus/request  {"subject","data","timeout_ms"} → {"data"}
//	GET  bus/subscribe?subject=PATTERN  newline-delimited JSON messages until the client leaves
//	GET  bus                            bus statistics
//	GET  /healthz                       no token needed; "ok"
//	GET  /metrics                       Prometheus metrics (token needed), when the Backend is a metrics.Source
//	GET  events                         Server-Sent Events: process table and bus counters on change (internal/admin)
//	GET  /admin/                        the browser admin panel (internal/admin)
//
// Requests authenticate with the bearer token or, from the admin panel, a
// session cookie plus CSRF checks (internal/admin.Guard).
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/metrics"
	"github.com/orbitalfoundation/orbital/internal/registry"
)

// Backend is what the control API steers (the node implements it).
type Backend interface {
	Processes() []api.ProcessInfo
	Stop(name string) error
	Restart(name string) error
	Kill(name string) error
	Publish(subject string, data []byte) error
	Send(to string, data []byte) error
	Request(ctx context.Context, subject string, data []byte) ([]byte, error)
	Subscribe(ctx context.Context, pattern string, fn func(bus.Message) error) error
	BusStats() bus.Stats
	Call(ctx context.Context, lib, fn string, args []byte) ([]byte, error)
	Libraries() []library.Info
	Install(ctx context.Context, pkg []byte, force bool) (registry.Record, error)
	Remove(ctx context.Context, name, version string, force bool) ([]registry.Record, error)
	Pin(ctx context.Context, name, version string) error
	Registry() *registry.Registry
	Query(kind, arg string) (any, error)
}

// Info is the content of node.json: how local clients reach the node.
type Info struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// InfoPath is where the node records its control address under home.
func InfoPath(home string) string { return filepath.Join(home, "node.json") }

// Server serves the control API.
type Server struct {
	b     Backend
	token string
	ln    net.Listener
	srv   *http.Server
	info  string
	admin *admin.Admin
}

// Listen opens the control API on addr (e.g. "127.0.0.1:0") with a fresh
// token and records both in home/node.json.
func Listen(addr, home string, b Backend) (*Server, error) {
	var tok [24]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control: listen %s: %w", addr, err)
	}
	s := &Server{b: b, token: hex.EncodeToString(tok[:]), ln: ln, info: InfoPath(home)}
	data, _ := json.Marshal(Info{Addr: ln.Addr().String(), Token: s.token, PID: os.Getpid()})
	if err := os.MkdirAll(home, 0o700); err != nil {
		ln.Close()
		return nil, err
	}
	tmp := s.info + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.info); err != nil {
		ln.Close()
		return nil, err
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	s.srv.RegisterOnShutdown(s.admin.Close) // end the event streams
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AdminURL is the admin panel's address (log in with LoginURL).
func (s *Server) AdminURL() string { return admin.URL(s.Addr()) }

// Close stops serving and removes node.json.
func (s *Server) Close(ctx context.Context) error {
	_ = os.Remove(s.info)
	return s.srv.Shutdown(ctx)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /api/v1/processes", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.b.Processes()) })
	mux.HandleFunc("POST /api/v1/processes/{name}/{op}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		switch r.PathValue("op") {
		case "stop":
			err = s.b.Stop(name)
		case "restart":
			err = s.b.Restart(name)
		case "kill":
			err = s.b.Kill(name)
		default:
			err = fmt.Errorf("%w: unknown operation %q", api.ErrNotFound, r.PathValue("op"))
		}
		reply(w, err, map[string]string{"ok": name})
	})
	mux.HandleFunc("POST /api/v1/bus/publish", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Subject, Data string }
		if !readJSON(w, r, &req) {
			return
		}
		reply(w, s.b.Publish(req.Subject, []byte(req.Data)), map[string]string{"ok": req.Subject})
	})
	mux.HandleFunc("POST /api/v1/bus/send", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ To, Data string }
		if !readJSON(w, r, &req) {
			return
		}
		reply(w, s.b.Send(req.To, []byte(req.Data)), map[string]string{"ok": req.To})
	})
	mux.HandleFunc("POST /api/v1/bus/request", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Subject, Data string
			TimeoutMS     int `json:"timeout_ms"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		if req.TimeoutMS <= 0 {
			req.TimeoutMS = 2000
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(req.TimeoutMS)*time.Millisecond)
		defer cancel()
		data, err := s.b.Request(ctx, req.Subject, []byte(req.Data))
		reply(w, err, map[string]string{"data": string(data)})
	})
	mux.HandleFunc("GET /api/v1/bus/subscribe", func(w http.ResponseWriter, r *http.Request) {
		pattern := r.URL.Query().Get("subject")
		fl, _ := w.(http.Flusher)
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		started := false
		err := s.b.Subscribe(r.Context(), pattern, func(m bus.Message) error {
			started = true
			if err := enc.Encode(map[string]string{"subject": m.Subject, "from": m.From, "reply": m.Reply, "data": string(m.Data)}); err != nil {
				return err
			}
			if fl != nil {
				fl.Flush()
			}
			return nil
		})
		if err != nil && !started {
			reply(w, err, nil)
		}
	})
	mux.HandleFunc("GET /api/v1/bus", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.b.BusStats()) })
	mux.HandleFunc("GET /api/v1/libraries", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.b.Libraries()) })
	// The device's registry.
	mux.HandleFunc("GET /api/v1/modules", func(w http.ResponseWriter, _ *http.Request) {
		list, err := s.b.Registry().List()
		reply(w, err, list)
	})
	mux.HandleFunc("POST /api/v1/modules", func(w http.ResponseWriter, r *http.Request) {
		pkg, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPackageBody))
		if err != nil {
			reply(w, fmt.Errorf("%w: package: %v", api.ErrTooLarge, err), nil)
			return
		}
		rec, err := s.b.Install(r.Context(), pkg, r.URL.Query().Get("force") == "true")
		reply(w, err, rec)
	})
	mux.HandleFunc("GET /api/v1/modules/{name...}", func(w http.ResponseWriter, r *http.Request) {
		info, err := s.b.Registry().Info(r.PathValue("name"), r.URL.Query().Get("version"))
		reply(w, err, info)
	})
	mux.HandleFunc("DELETE /api/v1/modules/{name...}", func(w http.ResponseWriter, r *http.Request) {
		recs, err := s.b.Remove(r.Context(), r.PathValue("name"), r.URL.Query().Get("version"), r.URL.Query().Get("force") == "true")
		reply(w, err, recs)
	})
	mux.HandleFunc("POST /api/v1/pin/{name...}", func(w http.ResponseWriter, r *http.Request) {
		err := s.b.Pin(r.Context(), r.PathValue("name"), r.URL.Query().Get("version"))
		reply(w, err, map[string]string{"ok": r.PathValue("name")})
	})
	mux.HandleFunc("GET /api/v1/query/{kind}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.b.Query(r.PathValue("kind"), r.URL.Query().Get("q"))
		reply(w, err, out)
	})
	// Call: the body is the arguments, the response body the result.
	mux.HandleFunc("POST /api/v1/call/{lib}/{fn}", func(w http.ResponseWriter, r *http.Request) {
		args, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallBody))
		if err != nil {
			reply(w, fmt.Errorf("%w: arguments: %v", api.ErrTooLarge, err), nil)
			return
		}
		timeout := DefaultCallTimeout
		if ms, err := strconv.Atoi(r.URL.Query().Get("timeout_ms")); err == nil && ms > 0 {
			timeout = time.Duration(ms) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		res, err := s.b.Call(ctx, r.PathValue("lib"), r.PathValue("fn"), args)
		if err != nil {
			reply(w, err, nil)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(res)
	})
	// Prometheus metrics, collected at scrape time, behind the same token.
	if src, ok := s.b.(metrics.Source); ok {
		mux.Handle("GET /metrics", metrics.Handler(src))
	}
	// The admin panel and its event stream; Guard authenticates everything
	// (bearer token, or the panel's session cookie with CSRF checks).
	s.admin = admin.New(s.token, s.b)
	s.admin.Mount(mux)
	return s.admin.Guard(mux)
}

// Limits of the call endpoint.
const (
	MaxCallBody        = 64 << 20
	MaxPackageBody     = 256 << 20
	DefaultCallTimeout = 10 * time.Second
)

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(v); err != nil {
		reply(w, fmt.Errorf("%w: bad JSON body: %v", api.ErrInvalid, err), nil)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// reply writes v, or err with an HTTP status chosen by its class.
func reply(w http.ResponseWriter, err error, v any) {
	if err == nil {
		writeJSON(w, v)
		return
	}
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, api.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, api.ErrExists):
		code = http.StatusConflict
	case errors.Is(err, api.ErrPermissionDenied):
		code = http.StatusForbidden
	case errors.Is(err, api.ErrInvalid), errors.Is(err, api.ErrTooLarge):
		code = http.StatusBadRequest
	case errors.Is(err, api.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "class": ClassOf(err)})
}

// classes are the api error classes by the name the API reports them with.
var classes = []struct {
	name string
	err  error
}{
	{"cycle", api.ErrCycle}, {"version", api.ErrVersion}, {"crashed", api.ErrCrashed}, {"failed", api.ErrFailed},
	{"permission_denied", api.ErrPermissionDenied}, {"not_found", api.ErrNotFound}, {"timeout", api.ErrTimeout},
	{"too_large", api.ErrTooLarge}, {"invalid", api.ErrInvalid}, {"limit", api.ErrLimit}, {"closed", api.ErrClosed},
	{"exists", api.ErrExists}, {"bad_module", api.ErrBadModule}, {"bad_manifest", api.ErrBadManifest},
}

// ClassOf names the api error class err wraps ("" if none).
func ClassOf(err error) string {
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return ""
}

// classNamed returns the api error class called name, or nil.
func classNamed(name string) error {
	for _, c := range classes {
		if c.name == name {
			return c.err
		}
	}
	return nil
}
