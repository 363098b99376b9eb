//go:build unix

package fs

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// Files returns a sys.FS exposing already-open host handles as the entries of
// one flat directory (for "host metacompute": the host opens photo.png, the
// guest reads /io/in). The directory's structure is read-only: Mkdir, Rmdir,
// Unlink, Rename, Link, Symlink, Chmod, Utimens and creating a new name fail
// with EROFS.
//
// An entry opens with O_RDONLY only, or with O_WRONLY only when Writable
// (O_TRUNC truncates a regular file, O_APPEND sets append mode); any other
// access fails with EACCES. Every guest open of an entry shares the host
// handle and therefore its offset, like an inherited descriptor.
//
// Ownership: on success the FS owns the handles. Closing a guest descriptor
// never closes a handle; closing the FS (it implements io.Closer) closes them
// all. On error Files closes nothing.
//
// Opens (including of the directory) take slots of q like Dir's.
func Files(handles []Handle, q *Quota) (experimentalsys.FS, error) {
	fsys := &filesFS{quota: q, entries: make(map[string]*entry, len(handles)), modTime: time.Now().UnixNano()}
	for i, h := range handles {
		if h.File == nil {
			return nil, fmt.Errorf("fs: handle %d (%q): nil file", i, h.Name)
		}
		if h.Name == "" || h.Name == "." || h.Name == ".." || strings.ContainsRune(h.Name, '/') || strings.ContainsRune(h.Name, 0) {
			return nil, fmt.Errorf("fs: handle %d: invalid name %q: need one path component", i, h.Name)
		}
		if _, dup := fsys.entries[h.Name]; dup {
			return nil, fmt.Errorf("fs: handle %d: duplicate name %q", i, h.Name)
		}
		var fl int
		err := control(h.File, func(fd int) (err error) {
			fl, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("fs: handle %q: %w", h.Name, err)
		}
		switch acc := fl & unix.O_ACCMODE; {
		case h.Writable && acc == unix.O_RDONLY:
			return nil, fmt.Errorf("fs: handle %q: writable but %s is not open for writing", h.Name, h.File.Name())
		case !h.Writable && acc == unix.O_WRONLY:
			return nil, fmt.Errorf("fs: handle %q: readable but %s is not open for reading", h.Name, h.File.Name())
		}
		fi, err := h.File.Stat()
		if err != nil {
			return nil, fmt.Errorf("fs: handle %q: %w", h.Name, err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("fs: handle %q: %s is a directory", h.Name, h.File.Name())
		}
		fsys.entries[h.Name] = &entry{Handle: h, append: fl&unix.O_APPEND != 0, regular: fi.Mode().IsRegular()}
		fsys.names = append(fsys.names, h.Name)
	}
	slices.Sort(fsys.names)
	return fsys, nil
}

// filesFS is the sys.FS returned by Files.
type filesFS struct {
	experimentalsys.UnimplementedFS

	quota   *Quota
	entries map[string]*entry
	names   []string // sorted
	modTime int64    // times reported for the directory
	close   sync.Once
}

// entry is one handle of a filesFS.
type entry struct {
	Handle
	append  bool // the host descriptor has O_APPEND
	regular bool
}

// Close closes every handle. Later calls do nothing.
func (d *filesFS) Close() error {
	var errs []error
	d.close.Do(func() {
		for _, name := range d.names {
			if err := d.entries[name].File.Close(); err != nil {
				errs = append(errs, fmt.Errorf("fs: close handle %q: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// lookup resolves a path to the directory (nil entry) or one of its entries.
func (d *filesFS) lookup(p string) (*entry, experimentalsys.Errno) {
	name, errno := cleanPath(p)
	if errno != 0 {
		return nil, errno
	}
	if name == "." {
		return nil, 0
	}
	first, _, nested := strings.Cut(name, "/")
	e, ok := d.entries[first]
	switch {
	case !ok:
		return nil, experimentalsys.ENOENT
	case nested: // "entry/" or "entry/x": an entry is not a directory
		return nil, experimentalsys.ENOTDIR
	}
	return e, 0
}

// OpenFile implements sys.FS.OpenFile.
func (d *filesFS) OpenFile(p string, flag experimentalsys.Oflag, perm iofs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	e, errno := d.lookup(p)
	if errno == experimentalsys.ENOENT && flag&experimentalsys.O_CREAT != 0 {
		return nil, experimentalsys.EROFS
	}
	if errno != 0 {
		return nil, errno
	}
	if flag&(experimentalsys.O_CREAT|experimentalsys.O_EXCL) == experimentalsys.O_CREAT|experimentalsys.O_EXCL {
		return nil, experimentalsys.EEXIST
	}
	acc := flag & accessMode
	if e == nil {
		if acc != experimentalsys.O_RDONLY || flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC) != 0 {
			return nil, experimentalsys.EISDIR
		}
	} else {
		if flag&experimentalsys.O_DIRECTORY != 0 {
			return nil, experimentalsys.ENOTDIR
		}
		want := experimentalsys.O_RDONLY
		if e.Writable {
			want = experimentalsys.O_WRONLY
		}
		if acc != want || (!e.Writable && flag&(experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0) {
			return nil, experimentalsys.EACCES
		}
	}
	if !d.quota.acquire(isPreopenOpen(p, flag, perm)) {
		return nil, EMFILE
	}
	if e == nil {
		return &listing{fs: d}, 0
	}
	if flag&experimentalsys.O_TRUNC != 0 && e.regular {
		if err := e.File.Truncate(0); err != nil {
			d.quota.release()
			return nil, toErrno(err)
		}
	}
	if e.append {
		flag |= experimentalsys.O_APPEND
	}
	f, errno := newFile(e.File, flag, d.quota, true, false)
	if errno != 0 {
		d.quota.release()
		return nil, errno
	}
	return f, 0
}

// Lstat implements sys.FS.Lstat; there are no symlinks, so it is Stat.
func (d *filesFS) Lstat(p string) (wsys.Stat_t, experimentalsys.Errno) { return d.Stat(p) }

// Stat implements sys.FS.Stat.
func (d *filesFS) Stat(p string) (wsys.Stat_t, experimentalsys.Errno) {
	e, errno := d.lookup(p)
	if errno != 0 {
		return wsys.Stat_t{}, errno
	}
	if e == nil {
		return d.dirStat(), 0
	}
	fi, err := e.File.Stat()
	if err != nil {
		return wsys.Stat_t{}, toErrno(err)
	}
	return wsys.NewStat_t(fi), 0
}

// dirStat describes the synthetic directory: device 0 never holds a host
// file, so its (Dev, Ino) cannot collide with an entry's.
func (d *filesFS) dirStat() wsys.Stat_t {
	return wsys.Stat_t{Ino: 1, Mode: iofs.ModeDir | 0o555, Nlink: 2, Atim: d.modTime, Mtim: d.modTime, Ctim: d.modTime}
}

// Readlink implements sys.FS.Readlink: nothing here is a symlink.
func (d *filesFS) Readlink(p string) (string, experimentalsys.Errno) {
	if _, errno := d.lookup(p); errno != 0 {
		return "", errno
	}
	return "", experimentalsys.EINVAL
}

// Mkdir implements sys.FS.Mkdir (EROFS).
func (*filesFS) Mkdir(string, iofs.FileMode) experimentalsys.Errno { return experimentalsys.EROFS }

// Chmod implements sys.FS.Chmod (EROFS).
func (*filesFS) Chmod(string, iofs.FileMode) experimentalsys.Errno { return experimentalsys.EROFS }

// Rename implements sys.FS.Rename (EROFS).
func (*filesFS) Rename(string, string) experimentalsys.Errno { return experimentalsys.EROFS }

// Rmdir implements sys.FS.Rmdir (EROFS).
func (*filesFS) Rmdir(string) experimentalsys.Errno { return experimentalsys.EROFS }

// Unlink implements sys.FS.Unlink (EROFS).
func (*filesFS) Unlink(string) experimentalsys.Errno { return experimentalsys.EROFS }

// Link implements sys.FS.Link (EROFS).
func (*filesFS) Link(string, string) experimentalsys.Errno { return experimentalsys.EROFS }

// Symlink implements sys.FS.Symlink (EROFS).
func (*filesFS) Symlink(string, string) experimentalsys.Errno { return experimentalsys.EROFS }

// Utimens implements sys.FS.Utimens (EROFS).
func (*filesFS) Utimens(string, int64, int64) experimentalsys.Errno { return experimentalsys.EROFS }

// listing is an open descriptor of a Files directory.
type listing struct {
	experimentalsys.UnimplementedFile

	fs     *filesFS
	pos    int // index into fs.names of the next Readdir entry
	closed atomic.Bool
}

var _ experimentalsys.File = (*listing)(nil)

// check returns EBADF once closed, else errno.
func (l *listing) check(errno experimentalsys.Errno) experimentalsys.Errno {
	if l.closed.Load() {
		return experimentalsys.EBADF
	}
	return errno
}

// Dev implements sys.File.Dev.
func (l *listing) Dev() (uint64, experimentalsys.Errno) { return 0, l.check(0) }

// Ino implements sys.File.Ino.
func (l *listing) Ino() (wsys.Inode, experimentalsys.Errno) {
	if errno := l.check(0); errno != 0 {
		return 0, errno
	}
	return l.fs.dirStat().Ino, 0
}

// IsDir implements sys.File.IsDir.
func (l *listing) IsDir() (bool, experimentalsys.Errno) { return true, l.check(0) }

// IsAppend implements sys.File.IsAppend.
func (l *listing) IsAppend() bool { return false }

// SetAppend implements sys.File.SetAppend.
func (l *listing) SetAppend(bool) experimentalsys.Errno { return l.check(experimentalsys.EISDIR) }

// Stat implements sys.File.Stat.
func (l *listing) Stat() (wsys.Stat_t, experimentalsys.Errno) {
	if errno := l.check(0); errno != 0 {
		return wsys.Stat_t{}, errno
	}
	return l.fs.dirStat(), 0
}

// Read implements sys.File.Read.
func (l *listing) Read([]byte) (int, experimentalsys.Errno) {
	return 0, l.check(experimentalsys.EISDIR)
}

// Pread implements sys.File.Pread.
func (l *listing) Pread([]byte, int64) (int, experimentalsys.Errno) {
	return 0, l.check(experimentalsys.EISDIR)
}

// Write implements sys.File.Write.
func (l *listing) Write([]byte) (int, experimentalsys.Errno) {
	return 0, l.check(experimentalsys.EISDIR)
}

// Pwrite implements sys.File.Pwrite.
func (l *listing) Pwrite([]byte, int64) (int, experimentalsys.Errno) {
	return 0, l.check(experimentalsys.EISDIR)
}

// Truncate implements sys.File.Truncate.
func (l *listing) Truncate(int64) experimentalsys.Errno { return l.check(experimentalsys.EISDIR) }

// Sync implements sys.File.Sync.
func (l *listing) Sync() experimentalsys.Errno { return l.check(0) }

// Datasync implements sys.File.Datasync.
func (l *listing) Datasync() experimentalsys.Errno { return l.check(0) }

// Utimens implements sys.File.Utimens (EROFS).
func (l *listing) Utimens(int64, int64) experimentalsys.Errno { return l.check(experimentalsys.EROFS) }

// Lseek (see Seek): only a rewind (offset 0 from the start) is supported,
// which restarts Readdir.
func (l *listing) Lseek(offset int64, whence int) (int64, experimentalsys.Errno) {
	if errno := l.check(0); errno != 0 {
		return 0, errno
	}
	if offset != 0 || whence != io.SeekStart {
		return 0, experimentalsys.EISDIR
	}
	l.pos = 0
	return 0, 0
}

// Readdir implements sys.File.Readdir, listing entries in name order without
// "." and "..".
func (l *listing) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if errno := l.check(0); errno != 0 {
		return nil, errno
	}
	names := l.fs.names[l.pos:]
	if n > 0 && n < len(names) {
		names = names[:n]
	}
	dirents := make([]experimentalsys.Dirent, 0, len(names))
	for _, name := range names {
		fi, err := l.fs.entries[name].File.Stat()
		if err != nil {
			return nil, toErrno(err)
		}
		st := wsys.NewStat_t(fi)
		dirents = append(dirents, experimentalsys.Dirent{Name: name, Ino: st.Ino, Type: st.Mode.Type()})
	}
	l.pos += len(dirents)
	return dirents, 0
}

// Close implements sys.File.Close, releasing the quota slot exactly once.
func (l *listing) Close() experimentalsys.Errno {
	if l.closed.CompareAndSwap(false, true) {
		l.fs.quota.release()
	}
	return 0
}
