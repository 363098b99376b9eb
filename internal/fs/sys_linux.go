package fs

import (
	"os"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"golang.org/x/sys/unix"
)

// oDSYNC is the open flag for O_DSYNC.
const oDSYNC = unix.O_DSYNC

// futimens sets the times of f's descriptor like futimens(3): utimensat with
// a NULL path, which operates on the descriptor itself. UTIME_OMIT keeps a
// time unchanged.
func futimens(f *os.File, atim, mtim int64) error {
	ts := [2]unix.Timespec{timespec(atim), timespec(mtim)}
	return control(f, func(fd int) error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

func timespec(ns int64) unix.Timespec {
	if ns == experimentalsys.UTIME_OMIT {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(ns)
}

// fdatasync flushes f's data (not all its metadata) to storage.
func fdatasync(f *os.File) error {
	return control(f, unix.Fdatasync)
}

// UtimensNoFollow sets the times of p itself, a symlink's own when p is
// one (utimensat with AT_SYMLINK_NOFOLLOW on its parent, resolved through
// the root). UTIME_OMIT keeps a time unchanged.
func (d *dirFS) UtimensNoFollow(p string, atim, mtim int64) experimentalsys.Errno {
	return d.mutate(p, func(name string) error {
		return d.atParent(name, func(dirfd int, base string) error {
			ts := []unix.Timespec{timespec(atim), timespec(mtim)}
			return unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
		})
	})
}
