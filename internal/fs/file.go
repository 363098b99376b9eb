//go:build unix

package fs

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// file is the sys.File of Dir and of Files entries, modelled on wazero's
// internal osFile. It never reopens anything by path: append mode is toggled
// with fcntl on the descriptor and directories are rewound with lseek.
type file struct {
	experimentalsys.UnimplementedFile

	f     *os.File
	acc   experimentalsys.Oflag // access mode the file was opened with
	quota *Quota
	// readOnly refuses metadata changes (Utimens) with EROFS: set for files of
	// a read-only mount and for Files entries.
	readOnly bool
	// owned files are closed by Close; Files entries belong to their FS.
	owned bool

	closed atomic.Bool
	append atomic.Bool
	// mu serializes writes with the temporary clearing of O_APPEND in Pwrite.
	mu sync.Mutex
	st atomic.Pointer[cachedStat]
}

// cachedStat holds the parts of the file's status that cannot change.
type cachedStat struct {
	dev   uint64
	ino   wsys.Inode
	isDir bool
}

var _ experimentalsys.File = (*file)(nil)

// newFile wraps f, which already holds a quota slot that Close releases. If
// flag has O_APPEND, append mode is enabled on the descriptor.
func newFile(f *os.File, flag experimentalsys.Oflag, q *Quota, readOnly, owned bool) (*file, experimentalsys.Errno) {
	fl := &file{f: f, acc: flag & accessMode, quota: q, readOnly: readOnly, owned: owned}
	if flag&experimentalsys.O_APPEND != 0 {
		if errno := fl.SetAppend(true); errno != 0 {
			return nil, errno
		}
	}
	return fl, 0
}

// control runs fn with f's descriptor without changing its blocking mode.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		return err
	}
	return opErr
}

func (f *file) cachedStat() (*cachedStat, experimentalsys.Errno) {
	if st := f.st.Load(); st != nil {
		return st, 0
	}
	if _, errno := f.Stat(); errno != 0 {
		return nil, errno
	}
	return f.st.Load(), 0
}

// Dev implements sys.File.Dev (cached).
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	st, errno := f.cachedStat()
	if errno != 0 {
		return 0, errno
	}
	return st.dev, 0
}

// Ino implements sys.File.Ino (cached).
func (f *file) Ino() (wsys.Inode, experimentalsys.Errno) {
	st, errno := f.cachedStat()
	if errno != 0 {
		return 0, errno
	}
	return st.ino, 0
}

// IsDir implements sys.File.IsDir (cached).
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	st, errno := f.cachedStat()
	if errno != 0 {
		return false, errno
	}
	return st.isDir, 0
}

// IsAppend implements sys.File.IsAppend.
func (f *file) IsAppend() bool { return f.append.Load() }

// SetAppend implements sys.File.SetAppend with fcntl(F_SETFL) on the open
// descriptor.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	if f.closed.Load() {
		return experimentalsys.EBADF
	}
	if isDir, errno := f.IsDir(); errno != 0 {
		return errno
	} else if isDir {
		return experimentalsys.EISDIR
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := control(f.f, func(fd int) error { return setAppendFlag(fd, enable) }); err != nil {
		return toErrno(err)
	}
	f.append.Store(enable)
	return 0
}

// setAppendFlag sets or clears O_APPEND on fd, keeping its other status flags.
func setAppendFlag(fd int, enable bool) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if enable {
		fl |= unix.O_APPEND
	} else {
		fl &^= unix.O_APPEND
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}

// Stat implements sys.File.Stat.
func (f *file) Stat() (wsys.Stat_t, experimentalsys.Errno) {
	if f.closed.Load() {
		return wsys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return wsys.Stat_t{}, toErrno(err)
	}
	st := wsys.NewStat_t(fi)
	f.st.Store(&cachedStat{dev: st.Dev, ino: st.Ino, isDir: st.Mode.IsDir()})
	return st, 0
}

// ioErr maps an I/O error; EOF is not an error at this interface.
func (f *file) ioErr(err error) experimentalsys.Errno {
	if err == nil || errors.Is(err, io.EOF) {
		return 0
	}
	return toErrno(err)
}

// readErr returns EBADF if f is closed or was opened write-only. (The kernel
// checks the same for Dir files; a Files entry's host handle may be O_RDWR.)
func (f *file) readErr() experimentalsys.Errno {
	if f.closed.Load() || f.acc == experimentalsys.O_WRONLY {
		return experimentalsys.EBADF
	}
	return 0
}

// Read implements sys.File.Read.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.readErr(); errno != 0 {
		return 0, errno
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, f.ioErr(err)
}

// Pread implements sys.File.Pread.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.readErr(); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, f.ioErr(err)
}

// Lseek moves the file offset (see Seek). A directory can only be rewound
// (offset 0 from the start), which also restarts Readdir.
func (f *file) Lseek(offset int64, whence int) (int64, experimentalsys.Errno) {
	if f.closed.Load() {
		return 0, experimentalsys.EBADF
	}
	if whence < io.SeekStart || whence > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	if isDir, errno := f.IsDir(); errno != 0 {
		return 0, errno
	} else if isDir && (offset != 0 || whence != io.SeekStart) {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Seek(offset, whence)
	return n, toErrno(err)
}

// Readdir implements sys.File.Readdir. Like os.File it omits "." and "..",
// which wazero's fd_readdir synthesizes itself. A file that is not a
// directory gives EBADF, as the sys.File contract says (wazero's fd_readdir
// checks IsDir first and reports ENOTDIR to the guest).
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed.Load() {
		return nil, experimentalsys.EBADF
	}
	if isDir, errno := f.IsDir(); errno != 0 {
		return nil, errno
	} else if !isDir {
		return nil, experimentalsys.EBADF
	}
	// Readdir (not ReadDir) stats entries relative to the directory's
	// descriptor (fstatat), never through a host path.
	fis, err := f.f.Readdir(n)
	if errno := f.ioErr(err); errno != 0 {
		return nil, errno
	}
	dirents := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		var ino wsys.Inode
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = uint64(st.Ino) // the field type varies by platform
		}
		dirents = append(dirents, experimentalsys.Dirent{Name: fi.Name(), Ino: ino, Type: fi.Mode().Type()})
	}
	return dirents, 0
}

// writeErr returns the error for writing to f, or zero if it may be written:
// EBADF if closed or not opened for writing (POSIX), EISDIR for a directory.
func (f *file) writeErr() experimentalsys.Errno {
	if f.closed.Load() {
		return experimentalsys.EBADF
	}
	if isDir, errno := f.IsDir(); errno != 0 {
		return errno
	} else if isDir {
		return experimentalsys.EISDIR
	}
	if f.acc == experimentalsys.O_RDONLY {
		return experimentalsys.EBADF
	}
	return 0
}

// Write implements sys.File.Write.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.writeErr(); errno != 0 {
		return 0, errno
	}
	if len(buf) == 0 {
		return 0, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.f.Write(buf)
	return n, toErrno(err)
}

// Pwrite implements sys.File.Pwrite with WASI (POSIX) semantics: it writes at
// off even when the file is in append mode, where Linux pwrite would append.
// O_APPEND is cleared around the write while holding the write lock.
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.writeErr(); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	err := control(f.f, func(fd int) (err error) {
		if f.append.Load() {
			if err := setAppendFlag(fd, false); err != nil {
				return err
			}
			defer func() {
				if rerr := setAppendFlag(fd, true); err == nil {
					err = rerr
				}
			}()
		}
		for n < len(buf) {
			m, err := unix.Pwrite(fd, buf[n:], off+int64(n))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if m == 0 {
				return io.ErrShortWrite
			}
			n += m
		}
		return nil
	})
	return n, toErrno(err)
}

// Truncate implements sys.File.Truncate.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	if errno := f.writeErr(); errno != 0 {
		return errno
	}
	return toErrno(f.f.Truncate(size))
}

// Sync implements sys.File.Sync.
func (f *file) Sync() experimentalsys.Errno {
	if f.closed.Load() {
		return experimentalsys.EBADF
	}
	return toErrno(f.f.Sync())
}

// Datasync implements sys.File.Datasync.
func (f *file) Datasync() experimentalsys.Errno {
	if f.closed.Load() {
		return experimentalsys.EBADF
	}
	return toErrno(fdatasync(f.f))
}

// Utimens implements sys.File.Utimens on the descriptor (futimens), honouring
// UTIME_OMIT for either time.
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed.Load() {
		return experimentalsys.EBADF
	}
	if f.readOnly {
		return experimentalsys.EROFS
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	return toErrno(futimens(f.f, atim, mtim))
}

// Close implements sys.File.Close. The quota slot is released exactly once;
// later calls do nothing.
func (f *file) Close() experimentalsys.Errno {
	if !f.closed.CompareAndSwap(false, true) {
		return 0
	}
	f.quota.release()
	if !f.owned {
		return 0
	}
	return toErrno(f.f.Close())
}

// lseeker is a file of this package: its seek is named Lseek, because
// go vet's stdmethods check reserves the name Seek for io.Seeker's
// signature, and sys.File's Seek returns an Errno. Our files' sys.File
// Seek is the embedded UnimplementedFile's (ENOSYS): seek through Seek.
type lseeker interface {
	Lseek(offset int64, whence int) (int64, experimentalsys.Errno)
}

// Seek seeks f: with Lseek for a file of this package, with sys.File's
// Seek for any other (wazero's, a test's).
func Seek(f experimentalsys.File, offset int64, whence int) (int64, experimentalsys.Errno) {
	if l, ok := f.(lseeker); ok {
		return l.Lseek(offset, whence)
	}
	return f.Seek(offset, whence)
}
