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
//	GET  libraries, POST call/{lib}/{fn}   the libraries; a call as the operator
//	GET  modules, POST modules, GET|DELETE modules/{name}, POST pin/{name}, GET query/{kind}?q=
//	GET  /metrics                       Prometheus metrics
//
// The package has two halves: API, the routes as an http.Handler over the
// node's Backends (one interface per concern; every wire type is in
// package api), and Server, the listener with its token and node.json.
// The API does not authenticate: the node serves it inside the admin
// panel's Guard (package admin: bearer token, or the panel's session
// cookie with CSRF checks), which also adds GET /api/v1/events and
// /admin/. Client is the CLI's side.
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// The control API steers a node through these backends, one per concern.

// Node reports the node's own state.
type Node interface {
	Health() api.NodeHealth
}

// Processes is the process table and what the operator does to a process.
type Processes interface {
	Processes() []api.ProcessInfo
	Start(name string) error
	Stop(name string) error
	Restart(name string) error
	Kill(name string) error
	// Logs returns up to limit lines process name logged after sequence
	// number after, and the sequence number to ask after next.
	Logs(name string, after uint64, limit int) ([]api.LogLine, uint64, error)
	// LogsChanged is closed when any process logs a new line.
	LogsChanged() <-chan struct{}
}

// Bus is the node's bus, for the operator.
type Bus interface {
	Publish(subject string, data []byte) error
	Send(to string, data []byte) error
	Request(ctx context.Context, subject string, data []byte) ([]byte, error)
	// Subscribe delivers messages matching pattern to fn until ctx ends.
	Subscribe(ctx context.Context, pattern string, fn func(api.BusMessage) error) error
	BusStats() api.BusStats
}

// Libraries are the node's libraries.
type Libraries interface {
	Call(ctx context.Context, lib, fn string, args []byte) ([]byte, error)
	Libraries() []api.LibraryInfo
}

// Modules are the device's installed modules.
type Modules interface {
	List() ([]api.ModuleSummary, error)
	Detail(name, version string) (api.ModuleDetail, error)
	Install(ctx context.Context, pkg []byte, force bool) (api.ModuleRecord, error)
	Remove(ctx context.Context, name, version string, force bool) ([]api.ModuleRecord, error)
	Pin(ctx context.Context, name, version string) error
	Counts() (modules, versions int, err error)
	Queries
	// The URL-bar install flow.
	Preview(ctx context.Context, ref string) (api.InstallPreview, error)
	Approve(ctx context.Context, id string) (api.Installed, error)
	Deny(id string) error
}

// Backends are everything the control API steers.
type Backends struct {
	Node      Node
	Processes Processes
	Bus       Bus
	Libraries Libraries
	Modules   Modules
	// Cluster is the node's cluster membership; nil for a node alone.
	Cluster Cluster
	// Screen is the node's compositor; nil: no screen routes.
	Screen Screen
}

// Cluster is the node's view of the cluster it is part of.
type Cluster interface {
	// View is this node's cluster counters and every node it knows.
	View() api.ClusterView
	// Processes lists the processes of every up node, each with its Node
	// set, and names the nodes that did not answer in time.
	Processes(ctx context.Context) (procs []api.ProcessInfo, missing []string)
	// Start and Stop start or stop a process on node (which must allow it).
	Start(ctx context.Context, node, name string) error
	Stop(ctx context.Context, node, name string) error
}

// InfoPath is where the node records its control address under home.
func InfoPath(home string) string { return filepath.Join(home, "node.json") }

// Server is the control listener: a bound address, the token every
// request needs, and node.json telling local clients both.
type Server struct {
	token string
	ln    net.Listener
	srv   *http.Server
	info  string
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

// Listen binds the control listener and records its address and token in
// home/node.json (mode 0600); Serve then serves a handler on it. A
// listener that is not on a loopback address is refused unless the token
// was provisioned: a remote client cannot read node.json.
func Listen(o Options) (*Server, error) {
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
	s := &Server{token: token, ln: ln, info: InfoPath(home)}
	data, _ := json.Marshal(api.ControlInfo{Addr: s.Addr(), Token: s.token, PID: os.Getpid()})
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
	return s, nil
}

// Serve serves h on the listener, in the background, until Close; each
// onShutdown function runs when Close begins (to end long-lived streams).
// h must authenticate every request with Token (see package admin's
// Guard, which the node uses).
func (s *Server) Serve(h http.Handler, onShutdown ...func()) {
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	for _, f := range onShutdown {
		s.srv.RegisterOnShutdown(f)
	}
	go func() { _ = s.srv.Serve(s.ln) }()
}

// Token is the token every request must carry.
func (s *Server) Token() string { return s.token }

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

// Close stops serving and removes node.json.
func (s *Server) Close(ctx context.Context) error {
	_ = os.Remove(s.info)
	if s.srv == nil {
		return s.ln.Close()
	}
	return s.srv.Shutdown(ctx)
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
	case errors.Is(err, api.ErrClosed), errors.Is(err, api.ErrUnavailable):
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
	{"unavailable", api.ErrUnavailable},
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
