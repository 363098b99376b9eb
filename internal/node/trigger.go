package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// Triggers. A module whose manifest has a [triggers] table without
// boot = true rests until one of its triggers fires:
//
//   - subjects: the node's trigger endpoint is the only subscriber; each
//     message is forwarded to the process by direct send (subject and
//     reply kept), starting the process first if it is not running. So no
//     message is lost or delivered twice while it starts.
//   - routes: the node serves them on [node] http; each request is started
//     (if needed) and sent as a bus request on "route.NAME" (the module
//     listens there); the reply is the response body.
//   - schedule: cron; the process is started (or restarted, if it ran and
//     exited) at each due time.
//   - on_demand (libraries): the first call starts the library.
//
// after = "exit" modules run until they return and are started again by
// the next trigger; "stay" modules keep running once started.

// Clock is the node's time source for schedules; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// triggerIDs numbers the trigger endpoints on the bus, far above process IDs.
var triggerIDs atomic.Uint64

func init() { triggerIDs.Store(1 << 62) }

// RouteSubject is the subject a route-triggered process receives HTTP
// requests on (as bus requests).
func RouteSubject(process string) string { return "route." + process }

// resting is a process that starts on a trigger.
type resting struct {
	pc      ProcessConfig
	tr      manifest.Triggers
	mu      sync.Mutex // serializes starts
	added   bool       // its spec was added to its group once
	firings uint64
}

// triggered reports whether pc starts on triggers rather than at boot.
func triggered(m *orbital.Module) (manifest.Triggers, bool) {
	mf := m.Manifest()
	if mf == nil || mf.Triggers.StartsAtBoot() {
		return manifest.Triggers{}, false
	}
	return mf.Triggers, true
}

// checkTriggers refuses configurations whose triggers cannot work.
func checkTriggers(pc ProcessConfig, tr manifest.Triggers, m *orbital.Module) error {
	if len(tr.Routes) > 0 && !slices.Contains(m.Manifest().Bus.Listen, RouteSubject(pc.Name)) {
		return fmt.Errorf("process %s: its routes are delivered as requests on %q: add it to [bus] listen and subscribe", pc.Name, RouteSubject(pc.Name))
	}
	return nil
}

// fire makes sure the resting process name is running, starting it if
// needed, and reports whether it had to start it.
func (n *Node) fire(name string) (started bool, err error) {
	// While the module is being upgraded, wait for the new version.
	for deadline := time.Now().Add(n.cfg.Grace + 10*time.Second); time.Now().Before(deadline); {
		n.mu.Lock()
		upgrading := n.upgrading[name] != 0
		n.mu.Unlock()
		if !upgrading {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.mu.Lock()
	r := n.rest[name]
	g := n.groups[name]
	mod := n.mods[name]
	n.mu.Unlock()
	if r == nil || g == nil {
		return false, fmt.Errorf("trigger %s: not a triggered process", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.firings++
	if n.running(name) {
		return false, nil
	}
	n.log.Info("trigger fired", "process", name)
	if !r.added {
		r.added = true
		spec := n.spec(r.pc, mod)
		if r.tr.After == manifest.AfterExit { // runs until it returns; the next trigger starts it again
			spec.Restart = supervisor.Transient
		}
		return true, g.Add(spec)
	}
	return true, g.Restart(name)
}

// running reports whether the process (or library pool) name is alive.
func (n *Node) running(name string) bool {
	n.mu.Lock()
	p, pool := n.procs[name], n.pools[name]
	n.mu.Unlock()
	var done <-chan struct{}
	switch {
	case p != nil:
		done = p.Done()
	case pool != nil:
		done = pool.Done()
	default:
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// startTriggers wires every resting process's triggers.
func (n *Node) startTriggers(ctx context.Context) error {
	n.mu.Lock()
	rest := make(map[string]*resting, len(n.rest))
	for k, v := range n.rest {
		rest[k] = v
	}
	n.mu.Unlock()
	for name, r := range rest {
		if err := n.wire(ctx, name, r); err != nil {
			return err
		}
	}
	return nil
}

// wire registers the triggers of one resting process.
func (n *Node) wire(ctx context.Context, name string, r *resting) error {
	tr := r.tr
	ctx, cancel := context.WithCancel(ctx)
	n.mu.Lock()
	if old := n.trigCancel[name]; old != nil {
		old()
	}
	n.trigCancel[name] = cancel
	n.mu.Unlock()
	if len(tr.Subjects) > 0 {
		if err := n.subjectTrigger(ctx, name, tr.Subjects); err != nil {
			return err
		}
	}
	for _, spec := range tr.Schedule {
		sched, err := manifest.CronParser.Parse(spec)
		if err != nil {
			return fmt.Errorf("process %s: schedule %q: %w", name, spec, err)
		}
		go n.cronLoop(ctx, name, spec, sched.Next)
	}
	if len(tr.Routes) > 0 {
		mux, err := n.routeMux()
		if err != nil {
			return err
		}
		for _, route := range tr.Routes {
			n.mu.Lock()
			owner, taken := n.routes[route]
			n.mu.Unlock()
			if taken && owner == name {
				continue // registered by an earlier version: the handler finds the current one
			}
			if err := handleRoute(mux, route, n.routeHandler(name)); err != nil {
				return fmt.Errorf("process %s: route %q: %w", name, route, err)
			}
			n.mu.Lock()
			n.routes[route] = name
			n.mu.Unlock()
		}
	}
	if tr.OnDemand {
		n.mu.Lock()
		lib := n.libs[name]
		n.mu.Unlock()
		if lib != nil {
			lib.OnDemand(func() {
				if _, err := n.fire(name); err != nil {
					n.log.Warn("on-demand start failed", "library", name, "err", err)
				}
			})
		}
	}
	return nil
}

// handleRoute registers a route, turning ServeMux's panic on a conflicting
// pattern (another module has it) into an error.
func handleRoute(mux *http.ServeMux, route string, h http.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mux.HandleFunc(route, h)
	return nil
}

// routeMux returns the mux of route triggers, serving it on [node] http at
// the first route.
func (n *Node) routeMux() (*http.ServeMux, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.httpMux != nil {
		return n.httpMux, nil
	}
	ln, err := net.Listen("tcp", n.cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("route triggers: %w", err)
	}
	n.httpMux = http.NewServeMux()
	n.httpLn = ln
	n.httpSrv = &http.Server{Handler: n.httpMux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.httpSrv.Serve(ln) }()
	n.log.Info("serving route triggers", "addr", "http://"+ln.Addr().String())
	return n.httpMux, nil
}

// HTTPAddr is the address route triggers are served on, or "".
func (n *Node) HTTPAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// subjectTrigger subscribes the node's trigger endpoint for name to its
// subjects and forwards every message to the process, starting it first.
func (n *Node) subjectTrigger(ctx context.Context, name string, subjects []string) error {
	mb := bus.NewMailbox(bus.MailboxConfig{Capacity: 4096, Overflow: bus.DropNewest})
	perms := bus.AllowAll
	perms.Relay = true // requests on the subject are answered by the process
	var ep *bus.Endpoint
	var err error
	for try := 0; try < 50; try++ { // a previous version's endpoint may still be unregistering
		if ep, err = n.bus.Register("trigger-"+name, triggerIDs.Add(1), perms, mb); err == nil || !errors.Is(err, bus.ErrExists) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("trigger %s: %w", name, err)
	}
	for _, s := range subjects {
		if _, err := ep.Subscribe(s, ""); err != nil {
			n.bus.Unregister(ep)
			return fmt.Errorf("trigger %s: subscribe %s: %w", name, s, err)
		}
	}
	go func() {
		defer n.bus.Unregister(ep)
		defer mb.Close()
		for {
			m, err := mb.Recv(ctx)
			if err != nil {
				return
			}
			n.forward(ep, name, m)
			if m.Blob != nil {
				_ = m.Blob.Release()
			}
		}
	}()
	return nil
}

// forward delivers a trigger message to the process by direct send,
// starting the process if it is not running.
func (n *Node) forward(ep *bus.Endpoint, name string, m bus.Message) {
	msg := bus.Message{Subject: m.Subject, Reply: m.Reply, Data: m.Data}
	for attempt := 0; attempt < 2; attempt++ {
		if _, err := n.fire(name); err != nil {
			n.log.Warn("trigger failed", "process", name, "subject", m.Subject, "err", err)
			return
		}
		err := ep.Send(name, msg)
		if err == nil {
			return
		}
		if !errors.Is(err, bus.ErrNoEndpoint) {
			n.log.Warn("trigger delivery failed", "process", name, "subject", m.Subject, "err", err)
			return
		}
		// It ended between the check and the send: start it again once.
	}
}

// cronLoop fires name at each time next gives, on the node's clock.
func (n *Node) cronLoop(ctx context.Context, name, spec string, next func(time.Time) time.Time) {
	for {
		now := n.clock.Now()
		due := next(now)
		if due.IsZero() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-n.clock.After(due.Sub(now)):
		}
		if _, err := n.fire(name); err != nil {
			n.log.Warn("scheduled start failed", "process", name, "schedule", spec, "err", err)
		}
	}
}

// MaxRouteBody bounds the body of a request to a route trigger.
const MaxRouteBody = 8 << 20

// RouteRequest is what a route-triggered process receives as request data
// (JSON); the reply's data is the response body.
type RouteRequest struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  string            `json:"query,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body,omitempty"` // base64 in JSON
}

func (n *Node) routeHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRouteBody))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if _, err := n.fire(name); err != nil {
			n.log.Warn("route trigger failed", "process", name, "err", err)
			http.Error(w, "module unavailable", http.StatusServiceUnavailable)
			return
		}
		req := RouteRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Header: map[string]string{}}
		for _, h := range []string{"Content-Type", "Accept"} {
			if v := r.Header.Get(h); v != "" {
				req.Header[h] = v
			}
		}
		data, _ := json.Marshal(req)
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		resp, err := n.ctl.Request(ctx, RouteSubject(name), data)
		if err != nil {
			status := http.StatusBadGateway
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			http.Error(w, "module did not answer: "+err.Error(), status)
			return
		}
		if resp.Blob != nil {
			_ = resp.Blob.Release()
		}
		_, _ = w.Write(resp.Data)
	}
}

// stopTriggers stops serving route triggers.
func (n *Node) stopTriggers(ctx context.Context) {
	n.mu.Lock()
	srv := n.httpSrv
	n.mu.Unlock()
	if srv != nil {
		_ = srv.Shutdown(ctx)
	}
}
