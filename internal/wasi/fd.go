package wasi

import (
	"io"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// Limits of the guest's arguments.
const (
	// MaxIOVecs bounds the iovecs of one read or write (POSIX IOV_MAX).
	MaxIOVecs = 1024
	// filestatSize and fdstatSize are the sizes of the structures.
	filestatSize = 64
	fdstatSize   = 24
)

// Whence values of fd_seek.
const (
	WhenceSet = 0
	WhenceCur = 1
	WhenceEnd = 2
)

// Time flags of the set_times functions (witx "fstflags").
const (
	FstflagAtim    = 1
	FstflagAtimNow = 2
	FstflagMtim    = 4
	FstflagMtimNow = 8
)

func fdFuncs() []Func {
	return []Func{
		fn("fd_advise", fdAdvise, "fd:i", "offset:I", "len:I", "advice:i"),
		fn("fd_allocate", fdAllocate, "fd:i", "offset:I", "len:I"),
		fn("fd_close", func(s *State, m Memory, st []uint64) { st[0] = uint64(s.Files.Close(int32(st[0]))) }, "fd:i"),
		fn("fd_datasync", func(s *State, m Memory, st []uint64) {
			st[0] = uint64(withFile(s, st[0], RightFdDatasync, func(d *Descriptor) Errno { return fromSys(d.File.Datasync()) }))
		}, "fd:i"),
		fn("fd_fdstat_get", fdFdstatGet, "fd:i", "result.stat:i"),
		fn("fd_fdstat_set_flags", fdFdstatSetFlags, "fd:i", "flags:i"),
		fn("fd_fdstat_set_rights", fdFdstatSetRights, "fd:i", "fs_rights_base:I", "fs_rights_inheriting:I"),
		fn("fd_filestat_get", fdFilestatGet, "fd:i", "result.buf:i"),
		fn("fd_filestat_set_size", func(s *State, m Memory, st []uint64) {
			size := int64(st[1])
			st[0] = uint64(withFile(s, st[0], RightFdFilestatSetSize, func(d *Descriptor) Errno {
				if d.isDir() {
					return EISDIR
				}
				if size < 0 {
					return EINVAL
				}
				return fromSys(d.File.Truncate(size))
			}))
		}, "fd:i", "size:I"),
		fn("fd_filestat_set_times", fdFilestatSetTimes, "fd:i", "atim:I", "mtim:I", "fst_flags:i"),
		fn("fd_pread", fdPread, "fd:i", "iovs:i", "iovs_len:i", "offset:I", "result.nread:i"),
		fn("fd_prestat_get", fdPrestatGet, "fd:i", "result.prestat:i"),
		fn("fd_prestat_dir_name", fdPrestatDirName, "fd:i", "path:i", "path_len:i"),
		fn("fd_pwrite", fdPwrite, "fd:i", "iovs:i", "iovs_len:i", "offset:I", "result.nwritten:i"),
		fn("fd_read", fdRead, "fd:i", "iovs:i", "iovs_len:i", "result.nread:i"),
		fn("fd_readdir", fdReaddir, "fd:i", "buf:i", "buf_len:i", "cookie:I", "result.bufused:i"),
		fn("fd_renumber", func(s *State, m Memory, st []uint64) { st[0] = uint64(s.Files.Renumber(int32(st[0]), int32(st[1]))) }, "fd:i", "to:i"),
		fn("fd_seek", fdSeek, "fd:i", "offset:I", "whence:i", "result.newoffset:i"),
		fn("fd_sync", func(s *State, m Memory, st []uint64) {
			st[0] = uint64(withFile(s, st[0], RightFdSync, func(d *Descriptor) Errno { return fromSys(d.File.Sync()) }))
		}, "fd:i"),
		fn("fd_tell", fdTell, "fd:i", "result.offset:i"),
		fn("fd_write", fdWrite, "fd:i", "iovs:i", "iovs_len:i", "result.nwritten:i"),
	}
}

// withFile runs op on descriptor fd if it is a file system descriptor
// holding right (sockets: ENOTSUP for file operations, EBADF for a closed
// number, ENOTCAPABLE without the right).
func withFile(s *State, fd uint64, right Rights, op func(d *Descriptor) Errno) Errno {
	d, errno := s.Files.Get(int32(fd))
	if errno != ESUCCESS {
		return errno
	}
	if !d.has(right) {
		return ENOTCAPABLE
	}
	if d.File == nil {
		return EBADF
	}
	return op(d)
}

func isStream(d *Descriptor) bool {
	_, ok := d.File.(*stream)
	return ok || d.Sock != nil
}

func fdAdvise(s *State, m Memory, st []uint64) {
	offset, length, advice := int64(st[1]), int64(st[2]), uint32(st[3])
	st[0] = uint64(withFile(s, st[0], RightFdAdvise, func(d *Descriptor) Errno {
		switch {
		case advice > 5:
			return EINVAL
		case offset < 0 || length < 0:
			return EINVAL
		case d.isDir():
			return EBADF
		case isStream(d):
			return ESPIPE
		}
		return ESUCCESS // advice only: the host's page cache decides
	}))
}

func fdAllocate(s *State, m Memory, st []uint64) {
	offset, length := int64(st[1]), int64(st[2])
	st[0] = uint64(withFile(s, st[0], RightFdAllocate, func(d *Descriptor) Errno {
		switch {
		case offset < 0 || length <= 0:
			return EINVAL
		case d.isDir():
			return EBADF
		case isStream(d):
			return ESPIPE
		}
		end := offset + length
		if end < 0 {
			return EFBIG
		}
		stat, errno := d.File.Stat()
		if errno != 0 {
			return fromSys(errno)
		}
		if end <= stat.Size {
			return ESUCCESS
		}
		return fromSys(d.File.Truncate(end))
	}))
}

func fdFdstatGet(s *State, m Memory, st []uint64) {
	fd, out := int32(st[0]), uint32(st[1])
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	flags := d.Flags
	if d.File != nil && d.File.IsAppend() {
		flags |= FdflagAppend
	}
	var b [fdstatSize]byte
	b[0] = d.Filetype
	le16(b[2:], flags)
	le64(b[8:], uint64(d.Base))
	le64(b[16:], uint64(d.Inherit))
	if !m.Write(out, b[:]) {
		st[0] = uint64(EFAULT)
		return
	}
	st[0] = uint64(ESUCCESS)
}

func fdFdstatSetFlags(s *State, m Memory, st []uint64) {
	fd, flags := int32(st[0]), uint16(st[1])
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if !d.has(RightFdFdstatSetFlags) {
		st[0] = uint64(ENOTCAPABLE)
		return
	}
	if uint32(st[1]) > uint32(fdflagsAll) {
		st[0] = uint64(EINVAL)
		return
	}
	// Only append and nonblock change after opening; the sync flags are
	// fixed when a file is opened (POSIX fcntl(F_SETFL) ignores them too).
	if d.File != nil && !d.isDir() && !isStream(d) {
		if errno := d.File.SetAppend(flags&FdflagAppend != 0); errno != 0 {
			st[0] = uint64(fromSys(errno))
			return
		}
	}
	if d.Sock != nil {
		d.Sock.SetNonblock(flags&FdflagNonblock != 0)
	}
	d.Flags = d.Flags&^(FdflagAppend|FdflagNonblock) | flags&(FdflagAppend|FdflagNonblock)
	st[0] = uint64(ESUCCESS)
}

func fdFdstatSetRights(s *State, m Memory, st []uint64) {
	fd, base, inherit := int32(st[0]), Rights(st[1]), Rights(st[2])
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	// Rights may only be dropped, never gained.
	if base&^d.Base != 0 || inherit&^d.Inherit != 0 {
		st[0] = uint64(ENOTCAPABLE)
		return
	}
	d.Base, d.Inherit = base, inherit
	st[0] = uint64(ESUCCESS)
}

func fdFilestatGet(s *State, m Memory, st []uint64) {
	fd, out := int32(st[0]), uint32(st[1])
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if !d.has(RightFdFilestatGet) {
		st[0] = uint64(ENOTCAPABLE)
		return
	}
	var stat sys.Stat_t
	switch {
	case d.Sock != nil:
		stat = sys.Stat_t{Mode: 0o600, Nlink: 1}
	default:
		var e experimentalsys.Errno
		if stat, e = d.File.Stat(); e != 0 {
			st[0] = uint64(fromSys(e))
			return
		}
	}
	st[0] = uint64(writeFilestat(m, out, stat, d.Filetype))
}

// writeFilestat writes a filestat; filetype overrides the mode's when
// non-zero (sockets).
func writeFilestat(m Memory, out uint32, stat sys.Stat_t, filetype uint8) Errno {
	var b [filestatSize]byte
	le64(b[0:], stat.Dev)
	le64(b[8:], stat.Ino)
	ft := filetypeOf(stat.Mode)
	if filetype == FiletypeSocketStream || filetype == FiletypeCharacterDevice && ft == FiletypeUnknown {
		ft = filetype
	}
	b[16] = ft
	le64(b[24:], stat.Nlink)
	le64(b[32:], uint64(stat.Size))
	le64(b[40:], uint64(stat.Atim))
	le64(b[48:], uint64(stat.Mtim))
	le64(b[56:], uint64(stat.Ctim))
	if !m.Write(out, b[:]) {
		return EFAULT
	}
	return ESUCCESS
}

// times turns set_times arguments into the file system's (UTIME_OMIT for
// a time left alone); EINVAL for contradictory or unknown flags.
func (s *State) times(atim, mtim int64, flags uint32) (int64, int64, Errno) {
	if flags&^(FstflagAtim|FstflagAtimNow|FstflagMtim|FstflagMtimNow) != 0 ||
		flags&(FstflagAtim|FstflagAtimNow) == FstflagAtim|FstflagAtimNow ||
		flags&(FstflagMtim|FstflagMtimNow) == FstflagMtim|FstflagMtimNow {
		return 0, 0, EINVAL
	}
	now, _ := s.now(ClockRealtime)
	pick := func(v int64, set, setNow uint32) int64 {
		switch {
		case flags&set != 0:
			return v
		case flags&setNow != 0:
			return now
		}
		return experimentalsys.UTIME_OMIT
	}
	return pick(atim, FstflagAtim, FstflagAtimNow), pick(mtim, FstflagMtim, FstflagMtimNow), ESUCCESS
}

func fdFilestatSetTimes(s *State, m Memory, st []uint64) {
	atim, mtim, flags := int64(st[1]), int64(st[2]), uint32(st[3])
	st[0] = uint64(withFile(s, st[0], RightFdFilestatSetTimes, func(d *Descriptor) Errno {
		a, mt, errno := s.times(atim, mtim, flags)
		if errno != ESUCCESS {
			return errno
		}
		if isStream(d) {
			return EINVAL
		}
		return fromSys(d.File.Utimens(a, mt))
	}))
}

func fdPrestatGet(s *State, m Memory, st []uint64) {
	fd, out := int32(st[0]), uint32(st[1])
	d, errno := s.Files.Get(fd)
	switch {
	case errno != ESUCCESS:
		st[0] = uint64(errno)
	case d.Preopen == "":
		st[0] = uint64(EBADF)
	case !m.WriteUint32Le(out, 0) || !m.WriteUint32Le(out+4, uint32(len(d.Preopen))): // tag dir
		st[0] = uint64(EFAULT)
	default:
		st[0] = uint64(ESUCCESS)
	}
}

func fdPrestatDirName(s *State, m Memory, st []uint64) {
	fd, p, n := int32(st[0]), uint32(st[1]), uint32(st[2])
	d, errno := s.Files.Get(fd)
	switch {
	case errno != ESUCCESS:
		st[0] = uint64(errno)
	case d.Preopen == "":
		st[0] = uint64(EBADF)
	case n < uint32(len(d.Preopen)):
		st[0] = uint64(ENAMETOOLONG)
	case !m.Write(p, []byte(d.Preopen)):
		st[0] = uint64(EFAULT)
	default:
		st[0] = uint64(ESUCCESS)
	}
}

// iovecs returns the guest buffers an iovec array names, as views of its
// memory (never copied).
func iovecs(m Memory, iovs, n uint32, out [][]byte) ([][]byte, Errno) {
	if n > MaxIOVecs {
		return nil, EINVAL
	}
	out = out[:0]
	for i := uint32(0); i < n; i++ {
		at := iovs + 8*i
		ptr, ok1 := m.ReadUint32Le(at)
		ln, ok2 := m.ReadUint32Le(at + 4)
		if !ok1 || !ok2 {
			return nil, EFAULT
		}
		buf, ok := m.Read(ptr, ln)
		if !ok {
			return nil, EFAULT
		}
		out = append(out, buf)
	}
	return out, ESUCCESS
}

// ioFile returns the file-like descriptor of a read or write with right.
func ioFile(s *State, fd int32, right Rights) (*Descriptor, Errno) {
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		return nil, errno
	}
	if !d.has(right) {
		return nil, ENOTCAPABLE
	}
	if d.isDir() {
		return nil, EISDIR
	}
	return d, ESUCCESS
}

func fdRead(s *State, m Memory, st []uint64) {
	fd, iovs, n, out := int32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3])
	d, errno := ioFile(s, fd, RightFdRead)
	if errno == ESUCCESS {
		errno = s.transfer(m, d, iovs, n, -1, false, out)
	}
	st[0] = uint64(errno)
}

func fdPread(s *State, m Memory, st []uint64) {
	fd, iovs, n, offset, out := int32(st[0]), uint32(st[1]), uint32(st[2]), int64(st[3]), uint32(st[4])
	d, errno := ioFile(s, fd, RightFdRead|RightFdSeek)
	switch {
	case errno != ESUCCESS:
	case isStream(d):
		errno = ESPIPE
	case offset < 0:
		errno = EINVAL
	default:
		errno = s.transfer(m, d, iovs, n, offset, false, out)
	}
	st[0] = uint64(errno)
}

// transfer is the body of fd_read, fd_pread, fd_write, fd_pwrite,
// sock_recv and sock_send: it decodes the iovecs, moves the bytes (at
// offset, or the position when offset < 0) and writes the count at out. A
// socket that may block is waited on without the execution slot.
func (s *State) transfer(m Memory, d *Descriptor, iovs, n uint32, offset int64, write bool, out uint32) Errno {
	var stack [8][]byte
	bufs, errno := iovecs(m, iovs, n, stack[:0])
	if errno != ESUCCESS {
		return errno
	}
	move := readv
	if write {
		move = writev
	}
	var total int
	switch {
	case d.Sock != nil && d.Sock.Listener():
		return ENOTCONN
	case d.Sock != nil && d.Flags&FdflagNonblock == 0:
		s.blocking(func() { total, errno = move(d, bufs, -1) })
	default:
		total, errno = move(d, bufs, offset)
	}
	if errno != ESUCCESS {
		return errno
	}
	return putU32(m, out, uint32(total))
}

// readv reads into bufs in order (at offset, or the file position when
// offset < 0), stopping at a short read: what was read before an error
// counts.
func readv(d *Descriptor, bufs [][]byte, offset int64) (int, Errno) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		var n int
		var errno Errno
		switch {
		case d.Sock != nil:
			var err error
			n, err = d.Sock.Read(b)
			errno = fromErr(err)
		case offset >= 0:
			var e experimentalsys.Errno
			n, e = d.File.Pread(b, offset+int64(total))
			errno = fromSys(e)
		default:
			var e experimentalsys.Errno
			n, e = d.File.Read(b)
			errno = fromSys(e)
		}
		total += n
		if errno != ESUCCESS {
			if total > 0 {
				return total, ESUCCESS
			}
			return 0, errno
		}
		if n < len(b) {
			break
		}
	}
	return total, ESUCCESS
}

func fdWrite(s *State, m Memory, st []uint64) {
	fd, iovs, n, out := int32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3])
	d, errno := ioFile(s, fd, RightFdWrite)
	if errno == ESUCCESS {
		errno = s.transfer(m, d, iovs, n, -1, true, out)
	}
	st[0] = uint64(errno)
}

func fdPwrite(s *State, m Memory, st []uint64) {
	fd, iovs, n, offset, out := int32(st[0]), uint32(st[1]), uint32(st[2]), int64(st[3]), uint32(st[4])
	d, errno := ioFile(s, fd, RightFdWrite|RightFdSeek)
	switch {
	case errno != ESUCCESS:
	case isStream(d):
		errno = ESPIPE
	case offset < 0:
		errno = EINVAL
	default:
		errno = s.transfer(m, d, iovs, n, offset, true, out)
	}
	st[0] = uint64(errno)
}

// writev writes bufs in order (at offset, or the file position when
// offset < 0), stopping at a short write.
func writev(d *Descriptor, bufs [][]byte, offset int64) (int, Errno) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		var n int
		var errno Errno
		switch {
		case d.Sock != nil:
			var err error
			n, err = d.Sock.Write(b)
			errno = fromErr(err)
		case offset >= 0:
			var e experimentalsys.Errno
			n, e = d.File.Pwrite(b, offset+int64(total))
			errno = fromSys(e)
		default:
			var e experimentalsys.Errno
			n, e = d.File.Write(b)
			errno = fromSys(e)
		}
		total += n
		if errno != ESUCCESS {
			if total > 0 {
				return total, ESUCCESS
			}
			return 0, errno
		}
		if n < len(b) {
			break
		}
	}
	return total, ESUCCESS
}

func fdSeek(s *State, m Memory, st []uint64) {
	fd, offset, whence, out := int32(st[0]), int64(st[1]), uint32(st[2]), uint32(st[3])
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	right := RightFdSeek
	if offset == 0 && whence == WhenceCur {
		right = RightFdTell // a seek that only asks where it is
	}
	switch {
	case !d.has(right) && !d.has(RightFdSeek):
		st[0] = uint64(ENOTCAPABLE)
	case whence > WhenceEnd:
		st[0] = uint64(EINVAL)
	case d.isDir():
		st[0] = uint64(EBADF)
	case isStream(d):
		st[0] = uint64(ESPIPE)
	default:
		pos, e := fs.Seek(d.File, offset, int(whence))
		if e != 0 {
			st[0] = uint64(fromSys(e))
			return
		}
		st[0] = uint64(putU64(m, out, uint64(pos)))
	}
}

func fdTell(s *State, m Memory, st []uint64) {
	fd, out := int32(st[0]), uint32(st[1])
	d, errno := s.Files.Get(fd)
	switch {
	case errno != ESUCCESS:
		st[0] = uint64(errno)
	case !d.has(RightFdTell):
		st[0] = uint64(ENOTCAPABLE)
	case d.isDir():
		st[0] = uint64(EBADF)
	case isStream(d):
		st[0] = uint64(ESPIPE)
	default:
		pos, e := fs.Seek(d.File, 0, io.SeekCurrent)
		if e != 0 {
			st[0] = uint64(fromSys(e))
			return
		}
		st[0] = uint64(putU64(m, out, uint64(pos)))
	}
}

func le16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }

func le32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func le64(b []byte, v uint64) {
	le32(b, uint32(v))
	le32(b[4:], uint32(v>>32))
}
