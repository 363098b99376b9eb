// Package trigger wires what starts the node's resting processes. A
// module whose manifest has a [triggers] table without boot = true rests
// until one of its triggers fires:
//
//   - subjects: a relay connection ("trigger-NAME") is the only subscriber;
//     each message is forwarded to the process by direct send (subject and
//     reply kept), starting the process first if it is not running. So no
//     message is lost or delivered twice while it starts.
//   - routes: the node serves them on [node] http; each request starts the
//     process (if needed) and reaches it as a bus request on "route.NAME"
//     (the module listens there); the reply is the response body.
//   - schedule: cron; the process is started (or restarted, if it ran and
//     exited) at each due time, on the node's Clock.
//   - on_demand (libraries): the first call starts the library.
//
// Starting is the Firer's job (package runner); this package only decides
// when.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Firer starts a resting process when its trigger fires, and reports
// whether it had to start it (false: it was running).
type Firer interface {
	Fire(name string) (started bool, err error)
}

// Clock is the time source of schedules; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// After waits for d.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// MaxRouteBody bounds the body of a request to a route trigger.
const MaxRouteBody = 8 << 20

// Check refuses triggers that cannot work: routes are delivered as bus
// requests on api.RouteSubject(name), which the module must listen on.
func Check(name string, tr orbital.Triggers, listens []string) error {
	if len(tr.Routes) > 0 && !slices.Contains(listens, api.RouteSubject(name)) {
		return fmt.Errorf("process %s: its routes are delivered as requests on %q: add it to [bus] listen and subscribe", name, api.RouteSubject(name))
	}
	return nil
}

// Triggers wires the triggers of the node's resting processes.
type Triggers struct {
	k     *orbital.Kernel
	conn  *orbital.Conn // route requests go out as this connection
	fire  Firer
	clock Clock
	addr  string // where routes are served
	log   *slog.Logger

	mu     sync.Mutex
	mux    *http.ServeMux
	ln     net.Listener
	srv    *http.Server
	routes map[string]string // route pattern → process
}

// New returns the trigger wiring of a node: relays connect to k, route
// requests go out as conn, routes are served on addr (at the first route),
// schedules run on clock.
func New(k *orbital.Kernel, conn *orbital.Conn, fire Firer, clock Clock, addr string, log *slog.Logger) *Triggers {
	if clock == nil {
		clock = RealClock{}
	}
	return &Triggers{k: k, conn: conn, fire: fire, clock: clock, addr: addr, log: log, routes: map[string]string{}}
}

// Wiring is one process's wired triggers.
type Wiring struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Stop unwires the triggers and returns once no relay or schedule of
// them runs any more (their connections are closed: the names are free).
// Routes stay registered (a mux cannot forget a pattern); they reach
// whatever process of that name there is.
func (w *Wiring) Stop() {
	w.cancel()
	w.wg.Wait()
}

// Wire registers the triggers tr of the process name; lib is its library
// when it is one (on_demand).
func (t *Triggers) Wire(name string, tr orbital.Triggers, lib *orbital.Library) (*Wiring, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Wiring{cancel: cancel}
	fail := func(err error) (*Wiring, error) { w.Stop(); return nil, err }
	if len(tr.Subjects) > 0 {
		if err := t.relay(ctx, w, name, tr.Subjects); err != nil {
			return fail(err)
		}
	}
	for _, spec := range tr.Schedule {
		sched, err := manifest.CronParser.Parse(spec)
		if err != nil {
			return fail(fmt.Errorf("process %s: schedule %q: %w", name, spec, err))
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			t.cronLoop(ctx, name, spec, sched.Next)
		}()
	}
	if len(tr.Routes) > 0 {
		mux, err := t.routeMux()
		if err != nil {
			return fail(err)
		}
		for _, route := range tr.Routes {
			t.mu.Lock()
			owner, taken := t.routes[route]
			t.mu.Unlock()
			if taken && owner == name {
				continue // registered by an earlier version: the handler finds the current one
			}
			if err := handleRoute(mux, route, t.routeHandler(name)); err != nil {
				return fail(fmt.Errorf("process %s: route %q: %w", name, route, err))
			}
			t.mu.Lock()
			t.routes[route] = name
			t.mu.Unlock()
		}
	}
	if tr.OnDemand && lib != nil {
		lib.OnDemand(func() {
			if _, err := t.fire.Fire(name); err != nil {
				t.log.Warn("on-demand start failed", "library", name, "err", err)
			}
		})
	}
	return w, nil
}

// relay subscribes a relay connection for name to its subjects and
// forwards every message to the process, starting it first.
func (t *Triggers) relay(ctx context.Context, w *Wiring, name string, subjects []string) error {
	conn, err := t.k.Connect("trigger-"+name, orbital.ConnOptions{Mailbox: 4096, Overflow: manifest.OverflowDropNewest, Relay: true})
	if err != nil {
		return fmt.Errorf("trigger %s: %w", name, err)
	}
	for _, s := range subjects {
		if _, err := conn.Subscribe(s, ""); err != nil {
			conn.Close()
			return fmt.Errorf("trigger %s: subscribe %s: %w", name, s, err)
		}
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer conn.Close()
		for {
			m, err := conn.Recv(ctx)
			if err != nil {
				return
			}
			t.forward(conn, name, m)
		}
	}()
	return nil
}

// forward delivers a trigger message to the process by direct send,
// starting the process if it is not running.
func (t *Triggers) forward(conn *orbital.Conn, name string, m orbital.Message) {
	for attempt := 0; attempt < 2; attempt++ {
		if _, err := t.fire.Fire(name); err != nil {
			t.log.Warn("trigger failed", "process", name, "subject", m.Subject, "err", err)
			return
		}
		err := conn.Forward(name, m)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrNotFound) {
			t.log.Warn("trigger delivery failed", "process", name, "subject", m.Subject, "err", err)
			return
		}
		// It ended between the check and the send: start it again once.
	}
}

// cronLoop fires name at each time next gives, on the node's clock.
func (t *Triggers) cronLoop(ctx context.Context, name, spec string, next func(time.Time) time.Time) {
	for {
		now := t.clock.Now()
		due := next(now)
		if due.IsZero() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.clock.After(due.Sub(now)):
		}
		if _, err := t.fire.Fire(name); err != nil {
			t.log.Warn("scheduled start failed", "process", name, "schedule", spec, "err", err)
		}
	}
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

// routeMux returns the mux of route triggers, serving it on the node's
// http address at the first route.
func (t *Triggers) routeMux() (*http.ServeMux, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mux != nil {
		return t.mux, nil
	}
	ln, err := net.Listen("tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("route triggers: %w", err)
	}
	t.mux = http.NewServeMux()
	t.ln = ln
	t.srv = &http.Server{Handler: t.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = t.srv.Serve(ln) }()
	t.log.Info("serving route triggers", "addr", "http://"+ln.Addr().String())
	return t.mux, nil
}

// HTTPAddr is the address route triggers are served on, or "".
func (t *Triggers) HTTPAddr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

func (t *Triggers) routeHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRouteBody))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if _, err := t.fire.Fire(name); err != nil {
			t.log.Warn("route trigger failed", "process", name, "err", err)
			http.Error(w, "module unavailable", http.StatusServiceUnavailable)
			return
		}
		req := api.RouteRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Header: map[string]string{}}
		for _, h := range []string{"Content-Type", "Accept"} {
			if v := r.Header.Get(h); v != "" {
				req.Header[h] = v
			}
		}
		data, _ := json.Marshal(req)
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		resp, err := t.conn.Request(ctx, api.RouteSubject(name), data)
		if err != nil {
			status := http.StatusBadGateway
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			http.Error(w, "module did not answer: "+err.Error(), status)
			return
		}
		_, _ = w.Write(resp.Data)
	}
}

// Close stops serving route triggers.
func (t *Triggers) Close(ctx context.Context) {
	t.mu.Lock()
	srv := t.srv
	t.mu.Unlock()
	if srv != nil {
		_ = srv.Shutdown(ctx)
	}
}
