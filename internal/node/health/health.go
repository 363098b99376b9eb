// Package health reports how a node is doing: its own health snapshot
// (uptime, CPU time, Go runtime memory, whether every process is in the
// care of its supervisor) and the supervisor events of its processes, as
// log records and as system messages on the bus
// ($sys.process.NAME.KIND), which the admin panel and any subscribed
// module watch.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/supervisor"
)

// samples are the runtime metrics Snapshot reads (runtime/metrics: no
// stop-the-world, unlike runtime.ReadMemStats).
var samples = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
}

// Snapshot reports the node's own state since started, given its process
// table and the processes whose restart budget is spent (status
// "degraded" lists them).
func Snapshot(started time.Time, procs []api.ProcessInfo, gaveUp map[string]string) api.NodeHealth {
	s := make([]metrics.Sample, len(samples))
	for i, name := range samples {
		s[i].Name = name
	}
	metrics.Read(s)
	u64 := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	h := api.NodeHealth{Status: "ok", Version: orbital.Version, PID: os.Getpid(), Started: started,
		Uptime: time.Since(started).Seconds(), CPUSeconds: cpuSeconds(), NumCPU: runtime.NumCPU(),
		Goroutines: int(u64(2)), HeapBytes: u64(0), SysBytes: u64(1), GaveUp: []string{}}
	for _, p := range procs {
		h.Processes++
		if p.State == api.StateRunning {
			h.Running++
		}
	}
	for name := range gaveUp {
		h.GaveUp = append(h.GaveUp, name)
	}
	if len(h.GaveUp) > 0 {
		slices.Sort(h.GaveUp)
		h.Status = "degraded"
	}
	return h
}

// Events reports supervisor events.
type Events struct {
	k   *orbital.Kernel
	log *slog.Logger
}

// NewEvents returns the reporter of a node's supervisor events.
func NewEvents(k *orbital.Kernel, log *slog.Logger) *Events { return &Events{k: k, log: log} }

// Subject is the system subject an event about process is published on.
func Subject(process, kind string) string {
	return orbital.SysPrefix + "process." + process + "." + kind
}

// Report logs ev (warnings for crashes and give-ups) and publishes it.
func (e *Events) Report(ev supervisor.Event) {
	attrs := []any{"process", ev.Child, "restarts", ev.Restarts}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	lv := slog.LevelInfo
	if ev.Kind == supervisor.EventCrashed || ev.Kind == supervisor.EventGaveUp {
		lv = slog.LevelWarn
	}
	e.log.Log(context.Background(), lv, "process "+ev.Kind, attrs...)
	data, _ := json.Marshal(api.ProcessEvent{Kind: ev.Kind, Process: ev.Child, Reason: ev.Reason, Restarts: ev.Restarts, Time: ev.Time})
	name := ev.Child
	if name == "" {
		name = "node"
	}
	_ = e.k.PublishEvent(Subject(name, ev.Kind), data)
}
