package wasi

import (
	"io"
	iofs "io/fs"
	"path"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// Path flags (witx "lookupflags") and open flags (witx "oflags").
const (
	LookupSymlinkFollow = 1

	OflagCreat     = 1
	OflagDirectory = 2
	OflagExcl      = 4
	OflagTrunc     = 8

	// maxPath bounds a path argument (Linux PATH_MAX).
	maxPath = 4096
	// direntHeader is the size of a dirent before its name.
	direntHeader = 24
)

func pathFuncs() []Func {
	return []Func{
		fn("path_create_directory", pathCreateDirectory, "fd:i", "path:i", "path_len:i"),
		fn("path_filestat_get", pathFilestatGet, "fd:i", "flags:i", "path:i", "path_len:i", "result.buf:i"),
		fn("path_filestat_set_times", pathFilestatSetTimes, "fd:i", "flags:i", "path:i", "path_len:i", "atim:I", "mtim:I", "fst_flags:i"),
		fn("path_link", pathLink, "old_fd:i", "old_flags:i", "old_path:i", "old_path_len:i", "new_fd:i", "new_path:i", "new_path_len:i"),
		fn("path_open", pathOpen, "fd:i", "dirflags:i", "path:i", "path_len:i", "oflags:i", "fs_rights_base:I", "fs_rights_inheriting:I", "fdflags:i", "result.opened_fd:i"),
		fn("path_readlink", pathReadlink, "fd:i", "path:i", "path_len:i", "buf:i", "buf_len:i", "result.bufused:i"),
		fn("path_remove_directory", pathRemoveDirectory, "fd:i", "path:i", "path_len:i"),
		fn("path_rename", pathRename, "fd:i", "old_path:i", "old_path_len:i", "new_fd:i", "new_path:i", "new_path_len:i"),
		fn("path_symlink", pathSymlink, "old_path:i", "old_path_len:i", "fd:i", "new_path:i", "new_path_len:i"),
		fn("path_unlink_file", pathUnlinkFile, "fd:i", "path:i", "path_len:i"),
	}
}

// guestPath reads a path argument.
func guestPath(m Memory, p, n uint32) (string, Errno) {
	if n > maxPath {
		return "", ENAMETOOLONG
	}
	b, ok := m.Read(p, n)
	if !ok {
		return "", EFAULT
	}
	return string(b), ESUCCESS
}

// dirAt returns directory descriptor fd holding right, and the guest path
// at p resolved in it.
func dirAt(s *State, m Memory, fd int32, right Rights, p, n uint32) (*Descriptor, string, Errno) {
	d, errno := s.Files.Get(fd)
	if errno != ESUCCESS {
		return nil, "", errno
	}
	if !d.isDir() {
		return nil, "", ENOTDIR
	}
	if !d.has(right) {
		return nil, "", ENOTCAPABLE
	}
	name, errno := guestPath(m, p, n)
	if errno != ESUCCESS {
		return nil, "", errno
	}
	full, errno := d.resolve(name)
	return d, full, errno
}

func pathCreateDirectory(s *State, m Memory, st []uint64) {
	d, p, errno := dirAt(s, m, int32(st[0]), RightPathCreateDirectory, uint32(st[1]), uint32(st[2]))
	if errno == ESUCCESS {
		errno = fromSys(d.FS.Mkdir(strings.TrimSuffix(p, "/"), 0o755))
	}
	st[0] = uint64(errno)
}

func pathFilestatGet(s *State, m Memory, st []uint64) {
	fd, flags, out := int32(st[0]), uint32(st[1]), uint32(st[4])
	d, p, errno := dirAt(s, m, fd, RightPathFilestatGet, uint32(st[2]), uint32(st[3]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	stat := d.FS.Lstat
	if flags&LookupSymlinkFollow != 0 {
		stat = d.FS.Stat
	}
	sst, e := stat(p)
	if e != 0 {
		st[0] = uint64(fromSys(e))
		return
	}
	st[0] = uint64(writeFilestat(m, out, sst, 0))
}

func pathFilestatSetTimes(s *State, m Memory, st []uint64) {
	fd, flags, atim, mtim, fst := int32(st[0]), uint32(st[1]), int64(st[4]), int64(st[5]), uint32(st[6])
	d, p, errno := dirAt(s, m, fd, RightPathFilestatSetTimes, uint32(st[2]), uint32(st[3]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	a, mt, errno := s.times(atim, mtim, fst)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if flags&LookupSymlinkFollow == 0 {
		// Without follow, a symlink's own times are set.
		if sst, e := d.FS.Lstat(p); e == 0 && sst.Mode&iofs.ModeSymlink != 0 {
			nf, ok := d.FS.(interface {
				UtimensNoFollow(string, int64, int64) experimentalsys.Errno
			})
			if !ok {
				st[0] = uint64(ENOTSUP)
				return
			}
			st[0] = uint64(fromSys(nf.UtimensNoFollow(p, a, mt)))
			return
		}
	}
	st[0] = uint64(fromSys(d.FS.Utimens(p, a, mt)))
}

func pathLink(s *State, m Memory, st []uint64) {
	oldFD, newFD := int32(st[0]), int32(st[4])
	if uint32(st[1])&LookupSymlinkFollow != 0 {
		// A hard link to a symlink's target is not offered (POSIX linkat's
		// AT_SYMLINK_FOLLOW); wasmtime refuses it too.
		st[0] = uint64(EINVAL)
		return
	}
	od, op, errno := dirAt(s, m, oldFD, RightPathLinkSource, uint32(st[2]), uint32(st[3]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	nd, np, errno := dirAt(s, m, newFD, RightPathLinkTarget, uint32(st[5]), uint32(st[6]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if od.FS != nd.FS {
		st[0] = uint64(EXDEV)
		return
	}
	if strings.HasSuffix(np, "/") {
		st[0] = uint64(ENOENT)
		return
	}
	st[0] = uint64(fromSys(od.FS.Link(strings.TrimSuffix(op, "/"), np)))
}

func pathOpen(s *State, m Memory, st []uint64) {
	fd, dirflags, oflags := int32(st[0]), uint32(st[1]), uint32(st[4])
	base, inherit, fdflags, out := Rights(st[5]), Rights(st[6]), uint32(st[7]), uint32(st[8])
	dir, p, errno := dirAt(s, m, fd, RightPathOpen, uint32(st[2]), uint32(st[3]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	nd, errno := s.open(dir, p, dirflags, oflags, base, inherit, fdflags)
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	newfd, errno := s.Files.Add(nd)
	if errno != ESUCCESS {
		_ = nd.close()
		st[0] = uint64(errno)
		return
	}
	if !m.WriteUint32Le(out, uint32(newfd)) {
		_ = s.Files.Close(newfd)
		st[0] = uint64(EFAULT)
		return
	}
	st[0] = uint64(ESUCCESS)
}

// open opens p in directory dir: rights checked against dir's (what it
// may open and what it may pass on), the host open mode derived from the
// rights asked for, and the new descriptor's rights those asked for that
// dir may pass on.
func (s *State) open(dir *Descriptor, p string, dirflags, oflags uint32, base, inherit Rights, fdflags uint32) (*Descriptor, Errno) {
	if oflags&^(OflagCreat|OflagDirectory|OflagExcl|OflagTrunc) != 0 || fdflags&^uint32(fdflagsAll) != 0 {
		return nil, EINVAL
	}
	switch {
	case oflags&OflagCreat != 0 && !dir.has(RightPathCreateFile):
		return nil, ENOTCAPABLE
	case oflags&OflagTrunc != 0 && !dir.has(RightPathFilestatSetSize):
		return nil, ENOTCAPABLE
	}
	base &= dir.Inherit
	inherit &= dir.Inherit
	read := base&(RightFdRead|RightFdReaddir) != 0
	write := base&RightFdWrite != 0 // the other write-ish rights need no write access to ask for (Go asks for them on every open)
	var flag experimentalsys.Oflag
	switch {
	case read && write:
		flag = experimentalsys.O_RDWR
	case write:
		flag = experimentalsys.O_WRONLY
	default:
		flag = experimentalsys.O_RDONLY
	}
	if oflags&OflagCreat != 0 {
		flag |= experimentalsys.O_CREAT
	}
	if oflags&OflagExcl != 0 {
		flag |= experimentalsys.O_EXCL
	}
	if oflags&OflagTrunc != 0 {
		flag |= experimentalsys.O_TRUNC
	}
	if oflags&OflagDirectory != 0 {
		flag |= experimentalsys.O_DIRECTORY
	}
	if dirflags&LookupSymlinkFollow == 0 {
		flag |= experimentalsys.O_NOFOLLOW
	}
	if fdflags&uint32(FdflagAppend) != 0 {
		flag |= experimentalsys.O_APPEND
	}
	if fdflags&uint32(FdflagDsync) != 0 {
		flag |= experimentalsys.O_DSYNC
	}
	if fdflags&uint32(FdflagSync) != 0 {
		flag |= experimentalsys.O_SYNC
	}
	if fdflags&uint32(FdflagRsync) != 0 {
		flag |= experimentalsys.O_RSYNC
	}
	if oflags&OflagDirectory != 0 && write {
		return nil, EISDIR // a directory is never opened for writing
	}
	f, e := dir.FS.OpenFile(p, flag, 0o644)
	if e != 0 {
		if e == experimentalsys.EISDIR && write {
			return nil, EISDIR
		}
		return nil, fromSys(e)
	}
	stat, e := f.Stat() // one fstat: the type, and the file's cached identity
	if e != 0 {
		_ = f.Close()
		return nil, fromSys(e)
	}
	isDir := stat.Mode.IsDir()
	nd := &Descriptor{File: f, Base: base, Inherit: inherit, Flags: uint16(fdflags), ReadOnly: dir.ReadOnly}
	if isDir {
		nd.Filetype, nd.FS, nd.Path = FiletypeDirectory, dir.FS, strings.TrimSuffix(p, "/")
		nd.Base &= DirRights
		if nd.Path == "" {
			nd.Path = "."
		}
	} else {
		if oflags&OflagDirectory != 0 {
			_ = f.Close()
			return nil, ENOTDIR
		}
		nd.Filetype = filetypeOf(stat.Mode)
		nd.Base &= FileRights
		nd.Inherit = 0
	}
	return nd, ESUCCESS
}

func pathReadlink(s *State, m Memory, st []uint64) {
	fd, buf, bufLen, out := int32(st[0]), uint32(st[3]), uint32(st[4]), uint32(st[5])
	d, p, errno := dirAt(s, m, fd, RightPathReadlink, uint32(st[1]), uint32(st[2]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	target, e := d.FS.Readlink(p)
	if e != 0 {
		st[0] = uint64(fromSys(e))
		return
	}
	// A buffer shorter than the target gets the start of it, as POSIX
	// readlink does.
	n := min(uint32(len(target)), bufLen)
	if !m.Write(buf, []byte(target[:n])) {
		st[0] = uint64(EFAULT)
		return
	}
	st[0] = uint64(putU32(m, out, n))
}

func pathRemoveDirectory(s *State, m Memory, st []uint64) {
	d, p, errno := dirAt(s, m, int32(st[0]), RightPathRemoveDirectory, uint32(st[1]), uint32(st[2]))
	if errno == ESUCCESS {
		if strings.TrimSuffix(p, "/") == "." {
			errno = EBUSY // the directory the descriptor is
		} else {
			errno = fromSys(d.FS.Rmdir(p))
		}
	}
	st[0] = uint64(errno)
}

func pathRename(s *State, m Memory, st []uint64) {
	od, op, errno := dirAt(s, m, int32(st[0]), RightPathRenameSource, uint32(st[1]), uint32(st[2]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	nd, np, errno := dirAt(s, m, int32(st[3]), RightPathRenameTarget, uint32(st[4]), uint32(st[5]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if od.FS != nd.FS {
		st[0] = uint64(EXDEV)
		return
	}
	st[0] = uint64(fromSys(od.FS.Rename(op, np)))
}

func pathSymlink(s *State, m Memory, st []uint64) {
	target, errno := guestPath(m, uint32(st[0]), uint32(st[1]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	d, p, errno := dirAt(s, m, int32(st[2]), RightPathSymlink, uint32(st[3]), uint32(st[4]))
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	// A link may name anything (it is resolved, confined, when it is
	// followed), but not an absolute path: that would point out of the
	// sandbox for whoever follows it on the host.
	if strings.HasPrefix(target, "/") {
		st[0] = uint64(EPERM)
		return
	}
	if strings.HasSuffix(p, "/") {
		// POSIX: a trailing slash names a directory, which a new link is not.
		if _, e := d.FS.Lstat(strings.TrimSuffix(p, "/")); e == 0 {
			st[0] = uint64(EEXIST)
		} else {
			st[0] = uint64(ENOENT)
		}
		return
	}
	st[0] = uint64(fromSys(d.FS.Symlink(target, p)))
}

func pathUnlinkFile(s *State, m Memory, st []uint64) {
	d, p, errno := dirAt(s, m, int32(st[0]), RightPathUnlinkFile, uint32(st[1]), uint32(st[2]))
	if errno == ESUCCESS {
		errno = fromSys(d.FS.Unlink(p))
	}
	st[0] = uint64(errno)
}

// dirCursor is a directory listing being read with fd_readdir: the
// entries read at cookie 0, "." and ".." first.
type dirCursor struct {
	entries []dirent
}

type dirent struct {
	name string
	ino  uint64
	typ  uint8
}

func fdReaddir(s *State, m Memory, st []uint64) {
	fd, buf, bufLen, cookie, out := int32(st[0]), uint32(st[1]), uint32(st[2]), st[3], uint32(st[4])
	d, errno := s.Files.Get(fd)
	switch {
	case errno != ESUCCESS:
	case !d.has(RightFdReaddir):
		errno = ENOTCAPABLE
	case !d.isDir():
		errno = ENOTDIR
	}
	if errno != ESUCCESS {
		st[0] = uint64(errno)
		return
	}
	if cookie == 0 || d.dir == nil {
		if errno := d.list(); errno != ESUCCESS {
			st[0] = uint64(errno)
			return
		}
	}
	if cookie > uint64(len(d.dir.entries)) {
		st[0] = uint64(EINVAL)
		return
	}
	dst, ok := m.Read(buf, bufLen)
	if !ok {
		st[0] = uint64(EFAULT)
		return
	}
	used := 0
	for i := int(cookie); i < len(d.dir.entries) && used < len(dst); i++ {
		e := d.dir.entries[i]
		var h [direntHeader]byte
		le64(h[0:], uint64(i+1))
		le64(h[8:], e.ino)
		le32(h[16:], uint32(len(e.name)))
		h[20] = e.typ
		// The last entry may be cut short: the guest sees a full buffer
		// and asks again from that entry's cookie.
		used += copy(dst[used:], h[:])
		used += copy(dst[used:], e.name)
	}
	st[0] = uint64(putU32(m, out, uint32(used)))
}

// list reads the directory's entries, from its start.
func (d *Descriptor) list() Errno {
	if _, e := fs.Seek(d.File, 0, io.SeekStart); e != 0 {
		return fromSys(e)
	}
	ents, e := d.File.Readdir(-1)
	if e != 0 {
		return fromSys(e)
	}
	c := &dirCursor{entries: make([]dirent, 0, len(ents)+2)}
	self, _ := d.File.Ino()
	parent := uint64(0)
	if st, e := d.FS.Stat(path.Join(d.Path, "..")); e == 0 && d.Path != "." {
		parent = st.Ino
	}
	c.entries = append(c.entries, dirent{".", self, FiletypeDirectory}, dirent{"..", parent, FiletypeDirectory})
	for _, e := range ents {
		c.entries = append(c.entries, dirent{e.Name, e.Ino, filetypeOf(e.Type)})
	}
	d.dir = c
	return ESUCCESS
}
