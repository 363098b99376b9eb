package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/sse"
	"github.com/orbitalfoundation/orbital/internal/subject"
)

// Event names on the stream.
const (
	EventProcesses = "processes" // data: [api.ProcessInfo]
	EventBus       = "bus"       // data: api.BusStats
	EventNode      = "node"      // data: api.NodeHealth; at most every HealthEvery
	EventCompile   = "compile"   // data: api.CompileEvent, as a module compiles (installs, upgrades)
)

// HealthEvery is how often the stream sends the node's health (it changes
// all the time: uptime, CPU).
const HealthEvery = 2 * time.Second

// Events serves GET /api/v1/events, a Server-Sent Events stream: a
// "processes" event with the process table and a "bus" event with the bus
// counters, each first at once and then only when it changed. Changes are
// looked for at most every 500 ms, and at once when the supervisor
// publishes on $sys.process.> (a start, exit, crash or restart). The stream
// ends when the client leaves or the panel is closed. No client polling.
func (a *Admin) Events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(a.ctx, cancel)
		defer stop()

		kick := make(chan struct{}, 1)
		// Compile progress is forwarded as it comes; a client that falls
		// behind by more than the buffer misses progress lines, never the
		// snapshots.
		compiles := make(chan []byte, 64)
		subDone := make(chan struct{}, 2)
		go func() {
			defer func() { subDone <- struct{}{} }()
			_ = a.src.Subscribe(ctx, subject.SysPrefix+"process.>", func(api.BusMessage) error {
				select {
				case kick <- struct{}{}:
				default:
				}
				return nil
			})
		}()
		go func() {
			defer func() { subDone <- struct{}{} }()
			_ = a.src.Subscribe(ctx, subject.SysPrefix+"compile.>", func(m api.BusMessage) error {
				select {
				case compiles <- []byte(m.Data):
				default:
				}
				return nil
			})
		}()
		defer func() { cancel(); <-subDone; <-subDone }()

		if !sse.Start(w, fl) {
			return
		}

		st := &stream{w: w}
		tick := time.NewTicker(a.interval)
		defer tick.Stop()
		for {
			if err := st.update(a.src); err != nil {
				return
			}
			if st.wrote {
				fl.Flush()
				st.wrote, st.last = false, time.Now()
			} else if time.Since(st.last) >= sse.Heartbeat {
				if sse.Ping(w, fl) != nil {
					return
				}
				st.last = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-kick:
			case data := <-compiles:
				if !json.Valid(data) {
					continue
				}
				var none []byte
				if st.send(EventCompile, data, &none) != nil {
					return
				}
				fl.Flush()
				st.wrote, st.last = false, time.Now()
			}
		}
	})
}

// stream is one client's view: what it was sent last.
type stream struct {
	w                 http.ResponseWriter
	lastProcs, lastBu []byte
	wrote             bool
	last              time.Time
	healthAt          time.Time // when the node event was sent last
}

// update sends the snapshots that changed since the last one.
func (s *stream) update(src Source) error {
	procs, err := json.Marshal(src.Processes())
	if err != nil {
		return fmt.Errorf("admin: processes: %w", err)
	}
	if err := s.send(EventProcesses, procs, &s.lastProcs); err != nil {
		return err
	}
	stats, err := json.Marshal(src.BusStats())
	if err != nil {
		return fmt.Errorf("admin: bus stats: %w", err)
	}
	if err := s.send(EventBus, stats, &s.lastBu); err != nil {
		return err
	}
	if time.Since(s.healthAt) >= HealthEvery {
		s.healthAt = time.Now()
		h, err := json.Marshal(src.Health())
		if err != nil {
			return fmt.Errorf("admin: health: %w", err)
		}
		var none []byte
		return s.send(EventNode, h, &none)
	}
	return nil
}

func (s *stream) send(event string, data []byte, last *[]byte) error {
	if *last != nil && bytes.Equal(data, *last) {
		return nil
	}
	*last = data
	s.wrote = true
	// JSON from encoding/json has no raw newlines, so one data line.
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return fmt.Errorf("admin: write event: %w", err)
	}
	return nil
}
