//go:build unix

package fs

import (
	"fmt"
	iofs "io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// Dir returns a sys.FS confined to hostDir through os.Root: no guest path,
// "..", absolute path or symlink (guest-created or pre-existing, relative or
// absolute) can resolve to anything outside hostDir.
//
// readOnly makes every mutating operation fail with EROFS: opening with
// O_WRONLY, O_RDWR, O_CREAT, O_TRUNC or O_APPEND (EISDIR when that names a
// directory, as POSIX orders it), Mkdir, Rmdir, Unlink, Rename, Link, Symlink,
// Chmod and Utimens, and File.Utimens. Files of a read-only mount are always
// opened read-only, so File.Write, Pwrite and Truncate fail with EBADF, the
// POSIX error for a descriptor not open for writing.
//
// Each open file takes a slot of q (nil means unlimited); an open beyond it
// fails with EMFILE, which the guest observes as EIO (see EMFILE).
//
// The returned value also implements io.Closer, which closes the os.Root;
// files already open stay usable.
func Dir(hostDir string, readOnly bool, q *Quota) (experimentalsys.FS, error) {
	root, err := os.OpenRoot(hostDir)
	if err != nil {
		return nil, fmt.Errorf("fs: mount %q: %w", hostDir, err)
	}
	learnEscapeErr(root)
	// The root directory itself, held open: a name with no directory part
	// is resolved against it with one *at call instead of opening its
	// parent through the root first.
	top, err := root.Open(".")
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("fs: mount %q: %w", hostDir, err)
	}
	return &dirFS{root: root, top: top, topFd: int(top.Fd()), host: hostDir, readOnly: readOnly, quota: q}, nil
}

// dirFS is the sys.FS returned by Dir.
type dirFS struct {
	experimentalsys.UnimplementedFS

	root     *os.Root
	top      *os.File // the root directory, for *at calls on names without a directory
	topFd    int
	host     string
	readOnly bool
	quota    *Quota
}

// Close closes the os.Root.
func (d *dirFS) Close() error {
	_ = d.top.Close()
	if err := d.root.Close(); err != nil {
		return fmt.Errorf("fs: close mount %q: %w", d.host, err)
	}
	return nil
}

// String returns the host directory, for diagnostics.
func (d *dirFS) String() string { return d.host }

// isPreopenOpen reports whether an open is wazero's lazy open of a mount's
// preopened directory (internal/sys/lazy.go: OpenFile(".", O_RDONLY, 0)).
// wazero panics if that open fails with anything but ENOENT, so it is counted
// but never refused by the quota. Guests cannot issue it: WASI path_open
// always passes perm 0o600.
func isPreopenOpen(p string, flag experimentalsys.Oflag, perm iofs.FileMode) bool {
	return p == "." && flag == experimentalsys.O_RDONLY && perm == 0
}

const accessMode = experimentalsys.O_RDONLY | experimentalsys.O_WRONLY | experimentalsys.O_RDWR

// isMutatingOpen reports whether an open could modify the file system.
func isMutatingOpen(flag experimentalsys.Oflag) bool {
	return flag&accessMode != experimentalsys.O_RDONLY ||
		flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0
}

// toOSFlag converts flags for os.Root.OpenFile or openat. O_APPEND is left out
// (it is set with fcntl after opening, see newFile) as is O_NOFOLLOW (see
// dirFS.open).
func toOSFlag(flag experimentalsys.Oflag) (int, experimentalsys.Errno) {
	var f int
	switch flag & accessMode {
	case experimentalsys.O_RDONLY:
		f = os.O_RDONLY
	case experimentalsys.O_WRONLY:
		f = os.O_WRONLY
	case experimentalsys.O_RDWR:
		f = os.O_RDWR
	default:
		return 0, experimentalsys.EINVAL
	}
	for _, m := range []struct {
		o  experimentalsys.Oflag
		os int
	}{
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC, os.O_SYNC},
		{experimentalsys.O_RSYNC, os.O_SYNC}, // Linux defines O_RSYNC as O_SYNC
		{experimentalsys.O_DSYNC, oDSYNC},
		{experimentalsys.O_NONBLOCK, syscall.O_NONBLOCK},
		{experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
	} {
		if flag&m.o != 0 {
			f |= m.os
		}
	}
	return f, 0
}

// OpenFile implements sys.FS.OpenFile.
func (d *dirFS) OpenFile(p string, flag experimentalsys.Oflag, perm iofs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name, errno := cleanPath(p)
	if errno != 0 {
		return nil, errno
	}
	osFlag, errno := toOSFlag(flag)
	if errno != 0 {
		return nil, errno
	}
	if d.readOnly && isMutatingOpen(flag) {
		return nil, d.readOnlyOpenErr(name, flag)
	}
	if !d.quota.acquire(isPreopenOpen(p, flag, perm)) {
		return nil, EMFILE
	}
	f, err := d.open(name, flag, osFlag, perm.Perm())
	if err != nil {
		d.quota.release()
		return nil, toErrno(err)
	}
	file, errno := newFile(f, flag, d.quota, d.readOnly, true)
	if errno != 0 {
		_ = f.Close()
		d.quota.release()
		return nil, errno
	}
	return file, 0
}

// open opens name. os.Root follows a final symlink even with O_NOFOLLOW, so
// for O_NOFOLLOW the parent directory is resolved through the root and the
// last component opened with openat(O_NOFOLLOW), which never follows it
// (ELOOP on a symlink, or ENOTDIR with O_DIRECTORY, as Linux reports). A
// trailing "/" forces following (POSIX), and os.Root does that confined.
func (d *dirFS) open(name string, flag experimentalsys.Oflag, osFlag int, perm iofs.FileMode) (*os.File, error) {
	if flag&experimentalsys.O_NOFOLLOW == 0 || name == "." || strings.HasSuffix(name, "/") {
		return d.root.OpenFile(name, osFlag, perm)
	}
	var f *os.File
	err := d.atParent(name, func(dirfd int, base string) error {
		for {
			fd, err := unix.Openat(dirfd, base, osFlag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			f = os.NewFile(uintptr(fd), name)
			return nil
		}
	})
	return f, err
}

// readOnlyOpenErr is the error for a mutating open on a read-only mount:
// EISDIR for a directory opened for writing (POSIX checks that first), else
// EROFS.
func (d *dirFS) readOnlyOpenErr(name string, flag experimentalsys.Oflag) experimentalsys.Errno {
	stat := d.root.Stat
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		stat = d.root.Lstat
	}
	writes := flag&accessMode != experimentalsys.O_RDONLY || flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC) != 0
	if fi, err := stat(name); err == nil && fi.IsDir() && writes {
		return experimentalsys.EISDIR
	}
	return experimentalsys.EROFS
}

// atParent resolves the parent of name through the root and calls fn with
// its descriptor and the last component of name. fn must only use *at system
// calls that do not follow the last component.
func (d *dirFS) atParent(name string, fn func(dirfd int, base string) error) error {
	dir, base := splitPath(name)
	if dir == "." {
		// base is one component, never ".." (cleanPath refuses climbing).
		err := fn(d.topFd, base)
		runtime.KeepAlive(d.top)
		return err
	}
	pf, err := d.root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer pf.Close()
	rc, err := pf.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd), base) }); err != nil {
		return err
	}
	return opErr
}

// Lstat implements sys.FS.Lstat.
func (d *dirFS) Lstat(p string) (wsys.Stat_t, experimentalsys.Errno) {
	return d.stat(p, d.root.Lstat)
}

// Stat implements sys.FS.Stat.
func (d *dirFS) Stat(p string) (wsys.Stat_t, experimentalsys.Errno) {
	return d.stat(p, d.root.Stat)
}

func (d *dirFS) stat(p string, stat func(string) (os.FileInfo, error)) (wsys.Stat_t, experimentalsys.Errno) {
	name, errno := cleanPath(p)
	if errno != 0 {
		return wsys.Stat_t{}, errno
	}
	fi, err := stat(name)
	if err != nil {
		return wsys.Stat_t{}, toErrno(err)
	}
	return wsys.NewStat_t(fi), 0
}

// mutate runs op on the cleaned path unless the mount is read-only.
func (d *dirFS) mutate(p string, op func(name string) error) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	name, errno := cleanPath(p)
	if errno != 0 {
		return errno
	}
	return toErrno(op(name))
}

// Mkdir implements sys.FS.Mkdir.
func (d *dirFS) Mkdir(p string, perm iofs.FileMode) experimentalsys.Errno {
	return d.mutate(p, func(name string) error { return d.root.Mkdir(name, perm.Perm()) })
}

// Chmod implements sys.FS.Chmod. Only the permission bits are applied: a
// guest cannot set setuid, setgid or sticky bits on host files.
func (d *dirFS) Chmod(p string, perm iofs.FileMode) experimentalsys.Errno {
	return d.mutate(p, func(name string) error { return d.root.Chmod(name, perm.Perm()) })
}

// Rename implements sys.FS.Rename with POSIX rename semantics (os.Root.Rename
// refuses to replace a directory, so renameat is used on both parents).
func (d *dirFS) Rename(from, to string) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	to, errno := cleanPath(to)
	if errno != 0 {
		return errno
	}
	return d.mutate(from, func(from string) error {
		if from == "." || to == "." {
			return syscall.EINVAL
		}
		return d.atParent(from, func(oldfd int, oldBase string) error {
			return d.atParent(to, func(newfd int, newBase string) error {
				return unix.Renameat(oldfd, oldBase, newfd, newBase)
			})
		})
	})
}

// Rmdir implements sys.FS.Rmdir.
func (d *dirFS) Rmdir(p string) experimentalsys.Errno {
	return d.mutate(p, func(name string) error {
		return d.atParent(name, func(dirfd int, base string) error {
			return unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
		})
	})
}

// Unlink implements sys.FS.Unlink.
func (d *dirFS) Unlink(p string) experimentalsys.Errno {
	return d.mutate(p, func(name string) error {
		return d.atParent(name, func(dirfd int, base string) error {
			err := unix.Unlinkat(dirfd, base, 0)
			if err == unix.EPERM { // BSDs report EPERM for a directory
				var st unix.Stat_t
				if unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
					err = unix.EISDIR
				}
			}
			return err
		})
	})
}

// Link implements sys.FS.Link. Both names resolve inside the root, so a hard
// link to a file outside it cannot be made.
func (d *dirFS) Link(oldPath, newPath string) experimentalsys.Errno {
	if d.readOnly {
		return experimentalsys.EROFS
	}
	newName, errno := cleanPath(newPath)
	if errno != 0 {
		return errno
	}
	return d.mutate(oldPath, func(oldName string) error { return d.root.Link(oldName, newName) })
}

// Symlink implements sys.FS.Symlink. The target is stored as given (it is
// resolved, confined, only when followed) but an absolute target is refused
// with EPERM, as wasi-filesystem and wazero do: it could never resolve inside
// the mount.
func (d *dirFS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	return d.mutate(linkName, func(name string) error {
		if path.IsAbs(oldPath) {
			return syscall.EPERM
		}
		return d.root.Symlink(oldPath, name)
	})
}

// Readlink implements sys.FS.Readlink, returning the raw link target.
func (d *dirFS) Readlink(p string) (string, experimentalsys.Errno) {
	name, errno := cleanPath(p)
	if errno != 0 {
		return "", errno
	}
	target, err := d.root.Readlink(name)
	if err != nil {
		return "", toErrno(err)
	}
	return target, 0
}

// Utimens implements sys.FS.Utimens, following symlinks inside the root.
func (d *dirFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	return d.mutate(p, func(name string) error {
		return d.root.Chtimes(name, omitTime(atim), omitTime(mtim))
	})
}

// omitTime converts epoch nanoseconds to a time for os.Root.Chtimes, where
// the zero time leaves the timestamp unchanged (UTIME_OMIT).
func omitTime(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
