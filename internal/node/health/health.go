// Package health reports how a node is doing: its own health snapshot
// (uptime, CPU time, Go runtime memory, whether every process is in the
// care of its supervisor) and the supervisor events of its processes, as
// log records and as system messages on the bus
// ($sys.process.NAME.KIND), which the admin panel and any subscribed
// module watch; and its module compiles (Compiles: progress lines, the
// boot report, $sys.compile.NAME).
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
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

// CompileSubject is the system subject a module's compile progress is
// published on.
func CompileSubject(module string) string { return orbital.SysPrefix + "compile." + module }

// Compiles reports the node's module compilations, at boot and later
// (installs, upgrades): every event goes to the node's progress sink (a
// terminal), to the log at debug level and to the bus as
// $sys.compile.NAME, which the admin panel shows; the boot's outcomes are
// kept for the health snapshot.
type Compiles struct {
	k   *orbital.Kernel
	log *slog.Logger
	out func(api.CompileEvent)

	mu      sync.Mutex
	boot    api.BootReport
	booting bool
	phase   time.Time
}

// NewCompiles returns the compile reporter; out may be nil.
func NewCompiles(k *orbital.Kernel, log *slog.Logger, out func(api.CompileEvent)) *Compiles {
	return &Compiles{k: k, log: log, out: out, booting: true, boot: api.BootReport{Modules: []api.CompileEvent{}}}
}

// Report reports ev. It is safe for concurrent use: modules compile in
// parallel.
func (c *Compiles) Report(ev api.CompileEvent) {
	if c.out != nil {
		c.out(ev)
	}
	attrs := []any{"module", ev.Module, "bytes", ev.Size}
	if ev.Elapsed > 0 {
		attrs = append(attrs, "took", ev.Elapsed)
	}
	if ev.Error != "" {
		attrs = append(attrs, "err", ev.Error)
	}
	c.log.Debug("compile "+ev.Stage, attrs...)
	data, _ := json.Marshal(ev)
	_ = c.k.PublishEvent(CompileSubject(ev.Module), data)

	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.booting || ev.Stage == api.CompileStarted {
		return
	}
	switch ev.Stage {
	case api.CompileDone:
		c.boot.Compiled++
	case api.CompileCached:
		c.boot.Cached++
	case api.CompileFailed:
		c.boot.Failed++
	}
	c.boot.Modules = append(c.boot.Modules, ev)
}

// CompilePhase marks the start of the boot's compile phase, CompileEnd its
// end (called once per phase; the times add up).
func (c *Compiles) CompilePhase() {
	c.mu.Lock()
	c.phase = time.Now()
	c.mu.Unlock()
}

// CompileEnd ends a compile phase started by CompilePhase.
func (c *Compiles) CompileEnd() {
	c.mu.Lock()
	c.boot.CompileSeconds += time.Since(c.phase).Seconds()
	c.mu.Unlock()
}

// Booted ends the boot report: later compiles are reported, not kept.
func (c *Compiles) Booted(took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.booting = false
	c.boot.Seconds = took.Seconds()
	c.log.Info("node booted", "took", took.Round(time.Millisecond), "compile", time.Duration(c.boot.CompileSeconds*float64(time.Second)).Round(time.Millisecond),
		"compiled", c.boot.Compiled, "cached", c.boot.Cached, "failed", c.boot.Failed)
}

// Boot returns the boot report (a copy).
func (c *Compiles) Boot() api.BootReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.boot
	b.Modules = slices.Clone(b.Modules)
	return b
}
