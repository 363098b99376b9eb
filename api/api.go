// Package api holds the small, immutable types shared by the Orbital kernel,
// its CLI and embedders: process states, process snapshots and the few error
// classes every failure is wrapped in.
//
// Errors returned by the kernel wrap one of the sentinel errors below, so
// callers branch with errors.Is and print the wrapped message for humans:
//
//	if errors.Is(err, api.ErrPermissionDenied) { … }
package api

import (
	"errors"
	"time"
)

// Error classes. Every error the kernel returns wraps exactly one of them.
var (
	// ErrBadModule means the wasm binary is malformed, truncated, or needs
	// imports the kernel does not provide.
	ErrBadModule = errors.New("bad module")
	// ErrBadManifest means the module's manifest is not valid.
	ErrBadManifest = errors.New("bad manifest")
	// ErrPermissionDenied means a capability was requested or used without
	// being granted.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrLimit means a resource limit (memory, deadline, open files, message
	// size) was reached.
	ErrLimit = errors.New("limit reached")
	// ErrNotFound means a module, process, export or file does not exist.
	ErrNotFound = errors.New("not found")
	// ErrClosed means the kernel or process was already shut down.
	ErrClosed = errors.New("closed")
	// ErrInvalid means malformed input: a subject, a name, an argument.
	ErrInvalid = errors.New("invalid")
	// ErrTooLarge means a message or buffer exceeds the allowed size.
	ErrTooLarge = errors.New("too large")
	// ErrTimeout means a wait (request, recv, blocked publish) timed out.
	ErrTimeout = errors.New("timeout")
	// ErrExists means a name is already taken.
	ErrExists = errors.New("already exists")
	// ErrCycle means a call between modules would re-enter a library that
	// is already on the call chain (a cycle or re-entrancy).
	ErrCycle = errors.New("call cycle")
	// ErrVersion means no available version of a library satisfies the
	// caller's version range.
	ErrVersion = errors.New("no matching version")
	// ErrCrashed means the callee of a call trapped, ran out of memory or
	// was killed while serving it.
	ErrCrashed = errors.New("callee crashed")
	// ErrFailed means the callee of a call returned an error of its own
	// (an application error; the message is the callee's).
	ErrFailed = errors.New("call failed")
	// ErrUnavailable: what was called runs elsewhere and no provider could
	// be reached (a node left, the cluster is partitioned).
	ErrUnavailable = errors.New("unavailable")
)

// State is the life-cycle state of a process.
type State string

// Process states. A process moves Starting → Running and ends in exactly one
// of Exited, Crashed or Killed.
const (
	StateIdle     State = "idle" // installed and waiting for its trigger (a subject, a route, a schedule, a first call)
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateExited   State = "exited"  // returned or called proc_exit, any exit code
	StateCrashed  State = "crashed" // trapped, overflowed its stack, hit a limit or its host call panicked
	StateKilled   State = "killed"  // stopped from outside: deadline, kill request or shutdown
	// StateStopped is a node's process stopped by the operator: it is not
	// restarted until the operator starts it again.
	StateStopped State = "stopped"
)

// Done reports whether s is a final state.
func (s State) Done() bool {
	return s == StateExited || s == StateCrashed || s == StateKilled
}

// ProcessInfo is a point-in-time snapshot of one process.
type ProcessInfo struct {
	ID          uint64        `json:"id"`
	Name        string        `json:"name"`
	Node        string        `json:"node,omitempty"` // the node it runs on, in a cluster listing (ps --all)
	Module      string        `json:"module"`         // name@version, or the file name without a manifest
	Digest      string        `json:"digest"`         // sha256 of the wasm binary, hex
	State       State         `json:"state"`
	ExitCode    uint32        `json:"exit_code"`
	Reason      string        `json:"reason,omitempty"` // why it ended, for humans
	StartedAt   time.Time     `json:"started_at"`
	EndedAt     time.Time     `json:"ended_at,omitzero"`
	CPUTime     time.Duration `json:"cpu_time_ns"`  // time spent executing guest code
	MemoryBytes uint64        `json:"memory_bytes"` // current linear memory size
	MemoryLimit uint64        `json:"memory_limit"` // linear memory ceiling
	OpenFiles   int           `json:"open_files"`   // file descriptors held right now
	DeniedOpens uint64        `json:"denied_opens"` // opens refused by the open-file quota
	DeniedGrows uint64        `json:"denied_grows"` // memory.grow refused by the memory limit
	Mailbox     int           `json:"mailbox"`      // messages queued right now
	MsgsIn      uint64        `json:"msgs_in"`      // messages delivered to its mailbox
	MsgsOut     uint64        `json:"msgs_out"`     // messages it published, sent, requested or replied
	Dropped     uint64        `json:"dropped"`      // messages its full mailbox dropped
	Restarts    int           `json:"restarts"`     // times its supervisor restarted it
	// Library is set for a library: its instances serve calls instead of
	// running a process.
	Library *LibraryStats `json:"library,omitempty"`
	// Net is set for a process granted network sockets.
	Net *NetStats `json:"net,omitempty"`
	// Driver is set for a device driver: native code, not a wasm process.
	Driver *DriverStats `json:"driver,omitempty"`
}

// DriverStats are the counters of a device driver.
type DriverStats struct {
	Device    string   `json:"device"`
	Mode      string   `json:"mode"`                // "in-process" or "process" (a child OS process)
	PID       int      `json:"pid,omitempty"`       // the child process, while it runs
	Exports   []string `json:"exports,omitempty"`   // its functions
	Resources []string `json:"resources,omitempty"` // host paths granted
	Published uint64   `json:"published"`           // messages it published
	Bytes     uint64   `json:"bytes"`               // bytes it published (headers and frames)
	Dropped   uint64   `json:"dropped"`             // messages dropped over its rate
	Calls     uint64   `json:"calls"`               // calls it served
	Failures  uint64   `json:"failures"`            // calls that failed
	// Protocol counts connections ended by a malformed message, Hangs
	// pings unanswered in time, Floods cut-offs for flooding.
	Protocol  uint64 `json:"protocol_errors"`
	Hangs     uint64 `json:"hangs"`
	Floods    uint64 `json:"floods"`
	BlobBytes int64  `json:"blob_bytes"` // bytes of its frames still held by receivers
	// Sandbox says what confines an out-of-process driver here.
	Sandbox string `json:"sandbox,omitempty"`
}

// NetStats are the network counters of a process.
type NetStats struct {
	Listen   []string `json:"listen,omitempty"` // addresses the kernel listens on for it
	Sockets  int      `json:"sockets"`          // sockets open now (listeners and connections)
	Accepted uint64   `json:"accepted"`         // connections accepted
	Dialled  uint64   `json:"dialled"`          // connections dialled to granted addresses
	Denied   uint64   `json:"denied"`           // dials refused by the grant
	BytesIn  uint64   `json:"bytes_in"`
	BytesOut uint64   `json:"bytes_out"`
}

// LibraryStats are the call counters of a library.
type LibraryStats struct {
	Stateful  bool     `json:"stateful"`
	Exports   []string `json:"exports"`
	Instances int      `json:"instances"` // instances running
	Busy      int      `json:"busy"`      // instances serving a call now
	Max       int      `json:"max"`       // most instances at once
	Calls     uint64   `json:"calls"`
	Failures  uint64   `json:"failures"`
}
