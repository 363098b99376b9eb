// Package fs implements the guest file systems Orbital mounts into wazero.
//
// wazero's own directory mounts resolve guest paths by joining them to a host
// path, so a symlink inside the mount (created by the guest or already on the
// host) reaches files outside it, and wazero ignores WASI rights, so a
// "read-only" mount is not enforced. Dir instead resolves every path through
// an os.Root, which refuses any resolution that leaves the root, and enforces
// read-only mounts itself. Files exposes host-opened handles as a flat
// directory. Both implement wazero's experimental sys.FS and are mounted with
//
//	wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fsys, guestPath)
//
// from github.com/tetratelabs/wazero/experimental/sysfs (re-assert
// sysfs.FSConfig on the result to add further mounts). Guest paths arrive
// relative to the mount; neither file system can be left through them.
//
// A Quota shared by all mounts of a process bounds its open descriptors. Each
// mount's preopened directory, which wazero opens on first use, takes a slot
// that is never refused (wazero panics if that open fails), so a quota should
// allow for one slot per mount on top of the guest's own files.
//
// Every method crossing the sys.FS boundary reports failures as
// experimentalsys.Errno values and never panics.
package fs

import (
	"os"
	"sync/atomic"
)

// Quota counts the open file descriptors of one process across all its
// mounts. It is safe for concurrent use. A nil *Quota is unlimited.
type Quota struct {
	max    int64 // <= 0: unlimited
	open   atomic.Int64
	denied atomic.Uint64
}

// NewQuota returns a quota allowing at most max simultaneously open files
// (max <= 0 means unlimited).
func NewQuota(max int) *Quota {
	return &Quota{max: int64(max)}
}

// Open returns the number of files currently open under the quota.
func (q *Quota) Open() int {
	if q == nil {
		return 0
	}
	return int(q.open.Load())
}

// Denied returns how many opens were refused because the quota was reached.
func (q *Quota) Denied() uint64 {
	if q == nil {
		return 0
	}
	return q.denied.Load()
}

// acquire takes one slot. It fails (and counts a denial) when the quota is
// full, unless force is set: forced slots are counted but never refused.
func (q *Quota) acquire(force bool) bool {
	if q == nil {
		return true
	}
	for {
		n := q.open.Load()
		if !force && q.max > 0 && n >= q.max {
			q.denied.Add(1)
			return false
		}
		if q.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release frees one slot taken by acquire.
func (q *Quota) release() {
	if q != nil {
		q.open.Add(-1)
	}
}

// Handle is a host file exposed by Files.
type Handle struct {
	// Name is the entry's name in the Files directory: one path component.
	Name string
	// File is the open host file. Files takes ownership of it.
	File *os.File
	// Writable lets the guest open the entry write-only; otherwise it may
	// only be opened read-only. File must be open accordingly.
	Writable bool
}

// Acquire takes one slot of the quota for a descriptor that is not a file
// (a socket), reporting false (and counting a denial) when it is full.
func (q *Quota) Acquire() bool { return q.acquire(false) }

// Release frees a slot taken by Acquire.
func (q *Quota) Release() { q.release() }
