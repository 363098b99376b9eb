// Package control is the node's local control API: JSON over HTTP on a
// loopback address, every request authenticated with a bearer token. The
// node writes its address and token to $ORBITAL_HOME/node.json (mode 0600),
// so the CLI on the same machine finds it with no flags and nobody else can
// use it. Routes (all under /api/v1/):
//
//	GET  node                           the node's health: uptime, CPU, Go memory, given-up processes
//	GET  processes                      the process table
//	POST processes/{name}/{start|stop|restart|kill}
//	GET  processes/{name}/logs?after=SEQ its last log lines → {"lines","next"}
//	GET  processes/{name}/logs/stream   Server-Sent Events: the lines, then new ones as they come
//	POST install/preview {"ref"}        fetch a package (https://, oci://) and describe it; nothing is installed
//	POST install/{id}                   approve a preview: install and run exactly the fetched bytes
//	DELETE install/{id}                 deny a preview: its bytes are dropped
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
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/library"
	"github.com/orbitalfoundation/orbital/internal/logring"
	"github.com/orbitalfoundation/orbital/internal/metrics"
	"github.com/orbitalfoundation/orbital/internal/registry"
)

// Backend is what the control API steers (the node implements it).
type Backend interface {
	Processes() []api.ProcessInfo
	Start(name string) error
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
	// ModuleInfo is registry.ModuleInfo plus "capabilities": what the
	// module asks for and whether it is granted.
	ModuleInfo(name, version string) (any, error)
	Query(kind, arg string) (any, error)
	Health() api.NodeHealth
	Logs(name string, after uint64, limit int) ([]logring.Line, uint64, error)
	LogsChanged() <-chan struct{}
	PreviewInstall(ctx context.Context, ref string) (api.InstallPreview, error)
	ApproveInstall(ctx context.Context, id string) (api.Installed, error)
	DenyInstall(id string) error
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
	// closing is closed when the server shuts down: it ends the log streams.
	closing chan struct{}
}

// Options configure Listen.
type Options struct {
	// Addr is the address to listen on (default "127.0.0.1:0").
	Addr string
	// Home is the data directory; node.json is written there.
	Home string
	// Token is a token the operator provisioned (see ReadTokenFile). Empty
	// means a fresh random token for this run, which only local clients
	// learn (from node.json): allowed on loopback addresses only.
	Token string
}

// MinTokenLen is the shortest provisioned token accepted.
const MinTokenLen = 32

// Listen opens the control API and records its address and token in
// home/node.json. Every request but /healthz needs the token (or an admin
// session). A listener that is not on a loopback address is refused unless
// the token was provisioned: a remote client cannot read node.json.
func Listen(o Options, b Backend) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	token := o.Token
	if token == "" {
		var tok [24]byte
		if _, err := rand.Read(tok[:]); err != nil {
			return nil, err
		}
		token = hex.EncodeToString(tok[:])
	} else if len(token) < MinTokenLen {
		return nil, fmt.Errorf("control: %w: the token is %d characters, at least %d are needed", api.ErrInvalid, len(token), MinTokenLen)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("control: listen %s: %w", o.Addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); o.Token == "" && (!ok || !ta.IP.IsLoopback()) {
		ln.Close()
		return nil, fmt.Errorf("control: listen %s: %w: not a loopback address, and no token was provisioned (set token_file in [node]); a remote client could never authenticate, and the API is never open without one", o.Addr, api.ErrPermissionDenied)
	}
	home := o.Home
	s := &Server{b: b, token: token, ln: ln, info: InfoPath(home), closing: make(chan struct{})}
	data, _ := json.Marshal(Info{Addr: s.Addr(), Token: s.token, PID: os.Getpid()})
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
	s.srv.RegisterOnShutdown(func() { close(s.closing) })
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ReadTokenFile reads a provisioned control token: the file's content
// without surrounding white space, at least MinTokenLen characters. A file
// that others may read (group or other permission bits, except on
// Windows) is refused.
func ReadTokenFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s: %w: mode %04o lets others read it; run chmod 600 %s", path, api.ErrInvalid, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < MinTokenLen || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("token file %s: %w: want one line of at least %d characters (e.g. openssl rand -hex 32)", path, api.ErrInvalid, MinTokenLen)
	}
	return tok, nil
}

// Addr is the address local clients reach the API at: the listener's,
// with a loopback address for an unspecified one (0.0.0.0, ::).
func (s *Server) Addr() string {
	ta, ok := s.ln.Addr().(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return s.ln.Addr().String()
	}
	lo := net.IPv4(127, 0, 0, 1)
	if ta.IP.To4() == nil {
		lo = net.IPv6loopback
	}
	return net.JoinHostPort(lo.String(), strconv.Itoa(ta.Port))
}

// LoginURL is the admin panel's one-time login link (it carries the
// token: show it only to the operator).
func (s *Server) LoginURL() string { return admin.LoginURL(s.Addr(), s.token) }

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
	mux.HandleFunc("GET /api/v1/node", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.b.Health()) })
	mux.HandleFunc("GET /api/v1/processes", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.b.Processes()) })
	mux.HandleFunc("POST /api/v1/processes/{name}/{op}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		switch r.PathValue("op") {
		case "start":
			err = s.b.Start(name)
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
	mux.HandleFunc("GET /api/v1/processes/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		lines, next, err := s.b.Logs(r.PathValue("name"), after, limit)
		if lines == nil {
			lines = []logring.Line{}
		}
		reply(w, err, map[string]any{"lines": lines, "next": next})
	})
	mux.HandleFunc("GET /api/v1/processes/{name}/logs/stream", s.streamLogs)
	mux.HandleFunc("POST /api/v1/install/preview", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Ref string }
		if !readJSON(w, r, &req) {
			return
		}
		pv, err := s.b.PreviewInstall(r.Context(), req.Ref)
		reply(w, err, pv)
	})
	mux.HandleFunc("POST /api/v1/install/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.b.ApproveInstall(r.Context(), r.PathValue("id"))
		reply(w, err, out)
	})
	mux.HandleFunc("DELETE /api/v1/install/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, s.b.DenyInstall(r.PathValue("id")), map[string]string{"ok": r.PathValue("id")})
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
		info, err := s.b.ModuleInfo(r.PathValue("name"), r.URL.Query().Get("version"))
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

// streamLogs serves a process's log lines as Server-Sent Events: "log"
// events whose data is a logring.Line, first those kept after ?after=SEQ
// (or the Last-Event-ID a reconnecting EventSource sends), then each new
// one, until the client leaves or the server shuts down.
func (s *Server) streamLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if id, err := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		after = id
	}
	if _, _, err := s.b.Logs(name, after, 1); err != nil {
		reply(w, err, nil)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		reply(w, fmt.Errorf("%w: streaming unsupported", api.ErrFailed), nil)
		return
	}
	if !admin.StartStream(w, fl) {
		return
	}
	ctx := r.Context()
	beat := time.NewTicker(admin.Heartbeat)
	defer beat.Stop()
	for {
		changed := s.b.LogsChanged() // before reading: no line can slip between
		lines, next, err := s.b.Logs(name, after, 256)
		if err != nil {
			return // the process is gone
		}
		for _, l := range lines {
			data, _ := json.Marshal(l)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", l.Seq, admin.EventLog, data); err != nil {
				return
			}
		}
		if len(lines) > 0 {
			fl.Flush()
			after = next
			if len(lines) == 256 {
				continue // more are waiting
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-changed:
		}
	}
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
	case errors.Is(err, api.ErrInvalid), errors.Is(err, api.ErrTooLarge),
		errors.Is(err, api.ErrBadModule), errors.Is(err, api.ErrBadManifest):
		code = http.StatusBadRequest
	case errors.Is(err, api.ErrClosed):
		code = http.StatusServiceUnavailable
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
