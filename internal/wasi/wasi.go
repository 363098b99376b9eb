// Package wasi is Orbital's own WASI preview 1 (wasi_snapshot_preview1):
// every function of the preview 1 witx, on the kernel's confined file
// system (package fs), with a descriptor table per process that enforces
// and reports rights, lets any descriptor — a preopen included — be
// renumbered, and carries network sockets only where the process was
// granted them.
//
// wazero stays the compiler and the VM: the engine registers Functions as
// the host module "wasi_snapshot_preview1" and hands each call the
// calling process's State and linear memory. This package names wazero's
// file-system types (experimental/sys, sys) as package fs does, and runs
// nothing of wazero's.
//
// Every function returns a WASI errno (0 on success) in stack[0]; none
// panics on guest input (out-of-range pointers are EFAULT, bad values
// EINVAL), and the only panics are the deliberate ones that end the guest
// (proc_exit, a kill while blocked).
package wasi

import (
	"io"
	"sync/atomic"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// ModuleName is the import module of WASI preview 1.
const ModuleName = "wasi_snapshot_preview1"

// Memory is a guest's linear memory. wazero's api.Memory implements it.
type Memory interface {
	Read(offset, byteCount uint32) ([]byte, bool)
	Write(offset uint32, v []byte) bool
	ReadUint16Le(offset uint32) (uint16, bool)
	WriteUint16Le(offset uint32, v uint16) bool
	ReadUint32Le(offset uint32) (uint32, bool)
	WriteUint32Le(offset, v uint32) bool
	ReadUint64Le(offset uint32) (uint64, bool)
	WriteUint64Le(offset uint32, v uint64) bool
	Size() uint32
}

// State is one process's view of the system: its arguments, environment,
// clocks, randomness, descriptors and sockets, and the hooks through
// which the engine keeps it stoppable. Set the fields before the guest
// runs; only the guest's own goroutine calls the functions.
type State struct {
	Args []string // argv, argv[0] the program name
	Env  []string // "K=V"

	// Walltime and Nanotime read the clocks; nil means the deterministic
	// fake clocks of a process without the clock capability (wall time
	// from 2022-01-01T00:00:00Z and monotonic time from 0, each reading
	// 1 ms later than the one before).
	Walltime func() (sec int64, nsec int32)
	Nanotime func() int64
	// Sleep blocks for ns nanoseconds, or returns at once when the clock
	// is not granted (nil). It must honour kills (by panicking the guest
	// out, as Blocking does).
	Sleep func(ns int64)
	// Random is the source of random_get.
	Random io.Reader
	// Blocking runs fn, which may block, without holding the engine's
	// execution slot; if the process is killed meanwhile it unwinds the
	// guest instead of returning. Nil runs fn directly.
	Blocking func(fn func())
	// Done is closed when the process is killed: blocked reads, accepts
	// and polls end.
	Done <-chan struct{}
	// Exit ends the guest with code (it must not return: proc_exit).
	Exit func(code uint32)

	// Files is the descriptor table.
	Files *Table
	// Quota bounds the process's open descriptors: files take a slot when
	// their file system opens them, sockets when they join the table.
	Quota *fs.Quota
	// Net is the process's network: what it may dial (sock_connect of
	// orbital_v1), its counters and sockets; nil: no network at all.
	Net *Net

	fakeWall, fakeMono atomic.Int64
}

// blocking runs fn through s.Blocking.
func (s *State) blocking(fn func()) {
	if s.Blocking == nil {
		fn()
		return
	}
	s.Blocking(fn)
}

// ValType is a wasm value type of a host function's signature.
type ValType byte

// The value types the functions use.
const (
	I32 ValType = 'i'
	I64 ValType = 'I'
)

// Func is one host function of the module.
type Func struct {
	Name    string
	Params  []ValType
	Names   []string // parameter names, for diagnostics
	Results []ValType
	// Call runs the function: stack holds the parameters and receives the
	// results (the errno in stack[0]).
	Call func(s *State, m Memory, stack []uint64)
}

// Functions returns every function of WASI preview 1.
func Functions() []Func {
	var out []Func
	for _, group := range [][]Func{argsFuncs(), clockFuncs(), fdFuncs(), pathFuncs(), pollFuncs(), procFuncs(), sockFuncs()} {
		out = append(out, group...)
	}
	return out
}

// fn builds a Func whose parameters are named by names, each "NAME:i" or
// "NAME:I", with an errno result (or none, for proc_exit).
func fn(name string, call func(s *State, m Memory, stack []uint64), params ...string) Func {
	f := Func{Name: name, Call: call, Results: []ValType{I32}}
	for _, p := range params {
		n, t := p[:len(p)-2], ValType(p[len(p)-1])
		f.Names = append(f.Names, n)
		f.Params = append(f.Params, t)
	}
	return f
}

// NoMemory is the memory of a module that has none: every access fails
// (EFAULT).
type NoMemory struct{}

func (NoMemory) Read(uint32, uint32) ([]byte, bool) { return nil, false }
func (NoMemory) Write(uint32, []byte) bool          { return false }
func (NoMemory) ReadUint16Le(uint32) (uint16, bool) { return 0, false }
func (NoMemory) WriteUint16Le(uint32, uint16) bool  { return false }
func (NoMemory) ReadUint32Le(uint32) (uint32, bool) { return 0, false }
func (NoMemory) WriteUint32Le(uint32, uint32) bool  { return false }
func (NoMemory) ReadUint64Le(uint32) (uint64, bool) { return 0, false }
func (NoMemory) WriteUint64Le(uint32, uint64) bool  { return false }
func (NoMemory) Size() uint32                       { return 0 }
