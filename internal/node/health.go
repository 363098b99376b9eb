package node

import (
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
)

// healthSamples are the runtime metrics Health reads (runtime/metrics: no
// stop-the-world, unlike runtime.ReadMemStats).
var healthSamples = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
}

// Health reports the node's own state: uptime, CPU time, Go runtime memory
// and goroutines, and whether every process is in the care of its
// supervisor (status "degraded" lists those given up).
func (n *Node) Health() api.NodeHealth {
	s := make([]metrics.Sample, len(healthSamples))
	for i, name := range healthSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	u64 := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	h := api.NodeHealth{Status: "ok", Version: orbital.Version, PID: os.Getpid(), Started: n.started,
		Uptime: time.Since(n.started).Seconds(), CPUSeconds: cpuSeconds(), NumCPU: runtime.NumCPU(),
		Goroutines: int(u64(2)), HeapBytes: u64(0), SysBytes: u64(1), GaveUp: []string{}}
	for _, p := range n.Processes() {
		h.Processes++
		if p.State == api.StateRunning {
			h.Running++
		}
	}
	for name := range n.GaveUp() {
		h.GaveUp = append(h.GaveUp, name)
	}
	if len(h.GaveUp) > 0 {
		slices.Sort(h.GaveUp)
		h.Status = "degraded"
	}
	return h
}
