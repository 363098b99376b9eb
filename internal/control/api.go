package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/metrics"
	"github.com/orbitalfoundation/orbital/internal/sse"
)

// EventLog is the event name of a log line on a process's log stream
// (data: api.LogLine).
const EventLog = "log"

// API is the control API as an http.Handler: the routes under /api/v1/
// (but the admin panel's event stream), /metrics and /healthz. It does not
// authenticate: whoever serves it wraps it (the node: package admin's
// Guard, on a Server's listener).
type API struct {
	b       Backends
	mux     *http.ServeMux
	closing chan struct{} // closed by Close: ends the log streams
	once    sync.Once
}

// NewAPI returns the control API over b.
func NewAPI(b Backends) *API {
	a := &API{b: b, mux: http.NewServeMux(), closing: make(chan struct{})}
	a.routes()
	return a
}

// ServeHTTP serves a request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Close ends the open log streams (register it with Server.Serve, so a
// shutdown need not wait for them).
func (a *API) Close() { a.once.Do(func() { close(a.closing) }) }

// query answers GET /api/v1/query/KIND?q=ARG.
func (a *API) query(kind, arg string) (any, error) { return Query(a.b.Modules, kind, arg) }

// Queries are the registry's questions (Modules has them; so does an open
// registry, for the CLI when no node runs).
type Queries interface {
	WhoExports(fn string) ([]api.ExportRef, error)
	WhatFires(subject string) ([]api.Firing, error)
	Triggered(kind string) ([]api.Firing, error)
	Dependents(lib string) ([]api.Dependent, error)
	WhoMay(capability string) ([]api.CapabilityHolder, error)
}

// Query asks q the question kind (an api.Query* constant) about arg; the
// answer is the kind's list. An unknown kind is api.ErrInvalid.
func Query(m Queries, kind, arg string) (any, error) {
	switch kind {
	case api.QueryExports:
		return m.WhoExports(arg)
	case api.QueryFires:
		return m.WhatFires(arg)
	case api.QueryTriggers:
		return m.Triggered(arg)
	case api.QueryDependents:
		return m.Dependents(arg)
	case api.QueryMay:
		return m.WhoMay(arg)
	}
	return nil, fmt.Errorf("query %q: %w: want exports, fires, triggers, dependents or may", kind, api.ErrInvalid)
}

// MissingNodesHeader names, on GET /api/v1/processes?all=1, the nodes of
// the cluster that did not answer in time.
const MissingNodesHeader = "Orbital-Missing-Nodes"

// nodes is GET /api/v1/nodes: the cluster's view, or this node alone.
func (a *API) nodes() api.ClusterView {
	if a.b.Cluster != nil {
		return a.b.Cluster.View()
	}
	self := api.NodeInfo{Self: true, State: api.NodeUp, Health: a.b.Node.Health(), LastSeen: time.Now()}
	self.Name, _ = os.Hostname() // a node alone goes by its host's name
	self.Version, self.Started = self.Health.Version, self.Health.Started
	for _, p := range a.b.Processes.Processes() {
		name, version, _ := strings.Cut(p.Module, "@")
		self.Processes = append(self.Processes, api.NodeProcess{Name: p.Name, Module: name, Version: version, State: p.State})
	}
	return api.ClusterView{Nodes: []api.NodeInfo{self}}
}

// metricsSource reads the backends at each scrape.
type metricsSource struct{ b Backends }

func (m metricsSource) Processes() []api.ProcessInfo      { return m.b.Processes.Processes() }
func (m metricsSource) BusStats() api.BusStats            { return m.b.Bus.BusStats() }
func (m metricsSource) Libraries() []api.LibraryInfo      { return m.b.Libraries.Libraries() }
func (m metricsSource) RegistryCounts() (int, int, error) { return m.b.Modules.Counts() }

func (m metricsSource) ClusterView() (api.ClusterView, bool) {
	if m.b.Cluster == nil {
		return api.ClusterView{}, false
	}
	return m.b.Cluster.View(), true
}

var (
	_ metrics.Source        = metricsSource{}
	_ metrics.ClusterSource = metricsSource{}
)

func (a *API) routes() {
	mux := a.mux
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /api/v1/node", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.b.Node.Health()) })
	mux.HandleFunc("GET /api/v1/processes", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("all") == "" || a.b.Cluster == nil {
			writeJSON(w, a.b.Processes.Processes())
			return
		}
		procs, missing := a.b.Cluster.Processes(r.Context())
		if len(missing) > 0 {
			w.Header().Set(MissingNodesHeader, strings.Join(missing, ","))
		}
		writeJSON(w, procs)
	})
	mux.HandleFunc("GET /api/v1/nodes", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.nodes()) })
	mux.HandleFunc("POST /api/v1/processes/{name}/{op}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		if node := r.URL.Query().Get("node"); node != "" {
			op := r.PathValue("op")
			switch {
			case a.b.Cluster == nil:
				err = fmt.Errorf("%w: this node is not in a cluster (see [cluster] in the node config)", api.ErrInvalid)
			case op == "start":
				err = a.b.Cluster.Start(r.Context(), node, name)
			case op == "stop":
				err = a.b.Cluster.Stop(r.Context(), node, name)
			default:
				err = fmt.Errorf("%w: only start and stop reach another node", api.ErrInvalid)
			}
			reply(w, err, map[string]string{"ok": name, "node": node})
			return
		}
		switch r.PathValue("op") {
		case "start":
			err = a.b.Processes.Start(name)
		case "stop":
			err = a.b.Processes.Stop(name)
		case "restart":
			err = a.b.Processes.Restart(name)
		case "kill":
			err = a.b.Processes.Kill(name)
		default:
			err = fmt.Errorf("%w: unknown operation %q", api.ErrNotFound, r.PathValue("op"))
		}
		reply(w, err, map[string]string{"ok": name})
	})
	mux.HandleFunc("GET /api/v1/processes/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		lines, next, err := a.b.Processes.Logs(r.PathValue("name"), after, limit)
		if lines == nil {
			lines = []api.LogLine{}
		}
		reply(w, err, api.LogPage{Lines: lines, Next: next})
	})
	mux.HandleFunc("GET /api/v1/processes/{name}/logs/stream", a.streamLogs)
	mux.HandleFunc("POST /api/v1/install/preview", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Ref string }
		if !readJSON(w, r, &req) {
			return
		}
		pv, err := a.b.Modules.Preview(r.Context(), req.Ref)
		reply(w, err, pv)
	})
	mux.HandleFunc("POST /api/v1/install/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := a.b.Modules.Approve(r.Context(), r.PathValue("id"))
		reply(w, err, out)
	})
	mux.HandleFunc("DELETE /api/v1/install/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, a.b.Modules.Deny(r.PathValue("id")), map[string]string{"ok": r.PathValue("id")})
	})
	mux.HandleFunc("POST /api/v1/bus/publish", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Subject, Data string }
		if !readJSON(w, r, &req) {
			return
		}
		reply(w, a.b.Bus.Publish(req.Subject, []byte(req.Data)), map[string]string{"ok": req.Subject})
	})
	mux.HandleFunc("POST /api/v1/bus/send", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ To, Data string }
		if !readJSON(w, r, &req) {
			return
		}
		reply(w, a.b.Bus.Send(req.To, []byte(req.Data)), map[string]string{"ok": req.To})
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
		data, err := a.b.Bus.Request(ctx, req.Subject, []byte(req.Data))
		reply(w, err, map[string]string{"data": string(data)})
	})
	mux.HandleFunc("GET /api/v1/bus/subscribe", func(w http.ResponseWriter, r *http.Request) {
		pattern := r.URL.Query().Get("subject")
		fl, _ := w.(http.Flusher)
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		started := false
		err := a.b.Bus.Subscribe(r.Context(), pattern, func(m api.BusMessage) error {
			started = true
			if err := enc.Encode(m); err != nil {
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
	mux.HandleFunc("GET /api/v1/bus", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.b.Bus.BusStats()) })
	mux.HandleFunc("GET /api/v1/libraries", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, a.b.Libraries.Libraries()) })
	// The device's registry.
	mux.HandleFunc("GET /api/v1/modules", func(w http.ResponseWriter, _ *http.Request) {
		list, err := a.b.Modules.List()
		reply(w, err, list)
	})
	mux.HandleFunc("POST /api/v1/modules", func(w http.ResponseWriter, r *http.Request) {
		pkg, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPackageBody))
		if err != nil {
			reply(w, fmt.Errorf("%w: package: %v", api.ErrTooLarge, err), nil)
			return
		}
		rec, err := a.b.Modules.Install(r.Context(), pkg, r.URL.Query().Get("force") == "true")
		reply(w, err, rec)
	})
	mux.HandleFunc("GET /api/v1/modules/{name...}", func(w http.ResponseWriter, r *http.Request) {
		info, err := a.b.Modules.Detail(r.PathValue("name"), r.URL.Query().Get("version"))
		reply(w, err, info)
	})
	mux.HandleFunc("DELETE /api/v1/modules/{name...}", func(w http.ResponseWriter, r *http.Request) {
		recs, err := a.b.Modules.Remove(r.Context(), r.PathValue("name"), r.URL.Query().Get("version"), r.URL.Query().Get("force") == "true")
		reply(w, err, recs)
	})
	mux.HandleFunc("POST /api/v1/pin/{name...}", func(w http.ResponseWriter, r *http.Request) {
		err := a.b.Modules.Pin(r.Context(), r.PathValue("name"), r.URL.Query().Get("version"))
		reply(w, err, map[string]string{"ok": r.PathValue("name")})
	})
	mux.HandleFunc("GET /api/v1/query/{kind}", func(w http.ResponseWriter, r *http.Request) {
		out, err := a.query(r.PathValue("kind"), r.URL.Query().Get("q"))
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
		res, err := a.b.Libraries.Call(ctx, r.PathValue("lib"), r.PathValue("fn"), args)
		if err != nil {
			reply(w, err, nil)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(res)
	})
	// Prometheus metrics, collected at scrape time.
	mux.Handle("GET /metrics", metrics.Handler(metricsSource{a.b}))
	if a.b.Screen != nil {
		a.screenRoutes()
	}
}

// streamLogs serves a process's log lines as Server-Sent Events: "log"
// events whose data is a logring.Line, first those kept after ?after=SEQ
// (or the Last-Event-ID a reconnecting EventSource sends), then each new
// one, until the client leaves or the server shuts down.
func (a *API) streamLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if id, err := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		after = id
	}
	if _, _, err := a.b.Processes.Logs(name, after, 1); err != nil {
		reply(w, err, nil)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		reply(w, fmt.Errorf("%w: streaming unsupported", api.ErrFailed), nil)
		return
	}
	if !sse.Start(w, fl) {
		return
	}
	ctx := r.Context()
	beat := time.NewTicker(sse.Heartbeat)
	defer beat.Stop()
	for {
		changed := a.b.Processes.LogsChanged() // before reading: no line can slip between
		lines, next, err := a.b.Processes.Logs(name, after, 256)
		if err != nil {
			return // the process is gone
		}
		for _, l := range lines {
			data, _ := json.Marshal(l)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", l.Seq, EventLog, data); err != nil {
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
		case <-a.closing:
			return
		case <-beat.C:
			if sse.Ping(w, fl) != nil {
				return
			}
		case <-changed:
		}
	}
}
