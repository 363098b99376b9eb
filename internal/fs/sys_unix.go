//go:build unix && !linux

package fs

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// oDSYNC is the open flag for O_DSYNC: golang.org/x/sys/unix lacks it on
// some BSDs, so use the stronger O_SYNC.
const oDSYNC = os.O_SYNC

// futimens sets the times of f's descriptor. Without a portable futimens in
// golang.org/x/sys/unix this uses futimes (microseconds), reading back the
// current value of a UTIME_OMIT time first.
func futimens(f *os.File, atim, mtim int64) error {
	if atim == experimentalsys.UTIME_OMIT || mtim == experimentalsys.UTIME_OMIT {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		st := wsys.NewStat_t(fi)
		if atim == experimentalsys.UTIME_OMIT {
			atim = st.Atim
		}
		if mtim == experimentalsys.UTIME_OMIT {
			mtim = st.Mtim
		}
	}
	tv := []unix.Timeval{unix.NsecToTimeval(atim), unix.NsecToTimeval(mtim)}
	return control(f, func(fd int) error { return unix.Futimes(fd, tv) })
}

// fdatasync flushes f to storage; fsync is the portable superset.
func fdatasync(f *os.File) error {
	return f.Sync()
}

// UtimensNoFollow is not offered here: a symlink's own times need
// utimensat, which golang.org/x/sys/unix does not offer portably.
func (d *dirFS) UtimensNoFollow(string, int64, int64) experimentalsys.Errno {
	return experimentalsys.ENOTSUP
}
