package wasi

import (
	"path"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// File types (witx "filetype").
const (
	FiletypeUnknown         uint8 = 0
	FiletypeBlockDevice     uint8 = 1
	FiletypeCharacterDevice uint8 = 2
	FiletypeDirectory       uint8 = 3
	FiletypeRegularFile     uint8 = 4
	FiletypeSocketDgram     uint8 = 5
	FiletypeSocketStream    uint8 = 6
	FiletypeSymbolicLink    uint8 = 7
)

// Descriptor flags (witx "fdflags").
const (
	FdflagAppend   uint16 = 1
	FdflagDsync    uint16 = 2
	FdflagNonblock uint16 = 4
	FdflagRsync    uint16 = 8
	FdflagSync     uint16 = 16
	fdflagsAll            = FdflagAppend | FdflagDsync | FdflagNonblock | FdflagRsync | FdflagSync
)

// Descriptor is one entry of a process's descriptor table: a file, a
// directory (with the file system it resolves paths in), a standard
// stream or a socket, with its rights and flags.
type Descriptor struct {
	File     experimentalsys.File // files, directories, standard streams; nil for sockets
	Sock     Socket               // sockets; nil otherwise
	Filetype uint8
	Base     Rights // what this descriptor may do
	Inherit  Rights // what descriptors opened through it may get
	Flags    uint16 // fdflags the guest set (append, nonblock, …)

	// Directories: the file system and the directory's path in it ("."
	// for its root). A preopen has Preopen set to its guest name.
	FS      experimentalsys.FS
	Path    string
	Preopen string
	// ReadOnly marks a directory (and what is opened through it) that
	// lives on a read-only mount.
	ReadOnly bool

	dir *dirCursor // fd_readdir state
}

// has reports whether d holds every right of r.
func (d *Descriptor) has(r Rights) bool { return d.Base&r == r }

// isDir reports whether d is a directory.
func (d *Descriptor) isDir() bool { return d.Filetype == FiletypeDirectory && d.FS != nil }

// resolve joins p to the directory's path for its file system, refusing
// with EPERM (as the file system refuses an escape) a path that is
// absolute or climbs above the directory. The result keeps a trailing "/"
// (it means "a directory").
func (d *Descriptor) resolve(p string) (string, Errno) {
	if p == "" {
		return "", ENOENT
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", EINVAL
	}
	if strings.HasPrefix(p, "/") {
		return "", EPERM
	}
	// A descriptor is the boundary of what it reaches: a path may not
	// climb above it, even where that stays inside the mount.
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return "", EPERM
	}
	trailing := strings.HasSuffix(p, "/")
	joined := path.Join(d.Path, p)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return "", EPERM
	}
	if trailing && joined != "." {
		joined += "/"
	}
	return joined, ESUCCESS
}

// Table is a process's descriptor table. A new descriptor gets the lowest
// free number.
type Table struct {
	fds  []*Descriptor
	used int
}

// Add puts d at the lowest free number.
func (t *Table) Add(d *Descriptor) (int32, Errno) {
	for i, e := range t.fds {
		if e == nil {
			t.fds[i] = d
			t.used++
			return int32(i), ESUCCESS
		}
	}
	if len(t.fds) >= 1<<20 {
		return 0, EMFILE
	}
	t.fds = append(t.fds, d)
	t.used++
	return int32(len(t.fds) - 1), ESUCCESS
}

// Get returns descriptor fd.
func (t *Table) Get(fd int32) (*Descriptor, Errno) {
	if fd < 0 || int(fd) >= len(t.fds) || t.fds[fd] == nil {
		return nil, EBADF
	}
	return t.fds[fd], ESUCCESS
}

// take removes fd from the table and returns it.
func (t *Table) take(fd int32) (*Descriptor, Errno) {
	d, errno := t.Get(fd)
	if errno != ESUCCESS {
		return nil, errno
	}
	t.fds[fd] = nil
	t.used--
	return d, ESUCCESS
}

// Close closes fd.
func (t *Table) Close(fd int32) Errno {
	d, errno := t.take(fd)
	if errno != ESUCCESS {
		return errno
	}
	return d.close()
}

// Renumber moves from onto to (which must be open; it is closed first),
// preopens included.
func (t *Table) Renumber(from, to int32) Errno {
	if _, errno := t.Get(from); errno != ESUCCESS {
		return errno
	}
	if _, errno := t.Get(to); errno != ESUCCESS {
		return errno
	}
	if from == to {
		return ESUCCESS
	}
	old := t.fds[to]
	t.fds[to], t.fds[from] = t.fds[from], nil
	t.used--
	_ = old.close()
	return ESUCCESS
}

// CloseAll closes every descriptor (the process ended).
func (t *Table) CloseAll() {
	for i, d := range t.fds {
		if d != nil {
			_ = d.close()
			t.fds[i] = nil
		}
	}
	t.used = 0
}

// Len is the number of open descriptors.
func (t *Table) Len() int { return t.used }

// Each calls f with every open descriptor.
func (t *Table) Each(f func(fd int32, d *Descriptor)) {
	for i, d := range t.fds {
		if d != nil {
			f(int32(i), d)
		}
	}
}

func (d *Descriptor) close() Errno {
	switch {
	case d.Sock != nil:
		return fromErr(d.Sock.Close())
	case d.File != nil:
		return fromSys(d.File.Close())
	}
	return ESUCCESS
}
