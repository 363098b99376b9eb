package api

import "time"

// NodeHealth is a running node's own state: what the admin dashboard's node
// card shows and GET /api/v1/node returns.
type NodeHealth struct {
	Status     string     `json:"status"` // "ok", or "degraded" while a process is given up
	Version    string     `json:"version"`
	PID        int        `json:"pid"`
	Started    time.Time  `json:"started"`
	Uptime     float64    `json:"uptime_seconds"`
	CPUSeconds float64    `json:"cpu_seconds"` // user+system CPU time of the node process (guests included); 0 where unknown
	NumCPU     int        `json:"num_cpu"`
	Goroutines int        `json:"goroutines"`
	HeapBytes  uint64     `json:"heap_bytes"` // Go heap objects in use (guests' linear memories included: wazero allocates them there)
	SysBytes   uint64     `json:"sys_bytes"`  // memory the Go runtime holds from the OS
	Processes  int        `json:"processes"`  // rows in the process table
	Running    int        `json:"running"`
	GaveUp     []string   `json:"gave_up"` // processes whose restart budget is spent
	Boot       BootReport `json:"boot"`
}

// BootReport is how the node's boot went: how long it took until the node
// was up, and how each module's compile ended (modules compile in parallel,
// so Compile is at least the slowest one and at most their sum).
type BootReport struct {
	Seconds        float64        `json:"seconds"`         // node.Start until up
	CompileSeconds float64        `json:"compile_seconds"` // the compile phase, wall clock
	Compiled       int            `json:"compiled"`        // compiled to machine code now
	Cached         int            `json:"cached"`          // machine code from the disk cache
	Failed         int            `json:"failed"`
	Modules        []CompileEvent `json:"modules"` // each module's last event, in the order they ended
}

// ProcessEvent is what a node publishes on $sys.process.NAME.KIND when a
// supervisor starts, restarts, stops or gives up on a process (or when it
// exits or crashes by itself).
type ProcessEvent struct {
	Kind     string    `json:"kind"` // started, exited, crashed, restarted, stopped, gave_up
	Process  string    `json:"process"`
	Reason   string    `json:"reason"`
	Restarts int       `json:"restarts"`
	Time     time.Time `json:"time"`
}
