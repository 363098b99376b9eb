package wasi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// mem is a guest memory for tests.
type mem []byte

func (m mem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m)) {
		return nil, false
	}
	return m[off : off+n : off+n], true
}
func (m mem) Write(off uint32, v []byte) bool {
	b, ok := m.Read(off, uint32(len(v)))
	if ok {
		copy(b, v)
	}
	return ok
}
func (m mem) ReadUint16Le(off uint32) (uint16, bool) {
	b, ok := m.Read(off, 2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b), true
}
func (m mem) WriteUint16Le(off uint32, v uint16) bool {
	return m.Write(off, binary.LittleEndian.AppendUint16(nil, v))
}
func (m mem) ReadUint32Le(off uint32) (uint32, bool) {
	b, ok := m.Read(off, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}
func (m mem) WriteUint32Le(off, v uint32) bool {
	return m.Write(off, binary.LittleEndian.AppendUint32(nil, v))
}
func (m mem) ReadUint64Le(off uint32) (uint64, bool) {
	b, ok := m.Read(off, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}
func (m mem) WriteUint64Le(off uint32, v uint64) bool {
	return m.Write(off, binary.LittleEndian.AppendUint64(nil, v))
}
func (m mem) Size() uint32 { return uint32(len(m)) }

// guest is a State with a preopened directory "data" (fd 3) on a real
// confined file system, and a memory to call it with.
type guest struct {
	t     *testing.T
	s     *State
	m     mem
	host  string
	funcs map[string]Func
}

func newGuest(t *testing.T, readOnly bool) *guest {
	t.Helper()
	host := t.TempDir()
	q := fs.NewQuota(16)
	dfs, err := fs.Dir(host, readOnly, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dfs.(interface{ Close() error }).Close() })
	s := &State{Files: &Table{}, Quota: q}
	for _, d := range []*Descriptor{Stdin(s, nil), Stdout(s, nil), Stdout(s, nil)} {
		s.Files.Add(d)
	}
	root, errno := dfs.OpenFile(".", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	base, inherit := PreopenRights()
	s.Files.Add(&Descriptor{File: root, Filetype: FiletypeDirectory, FS: dfs, Path: ".", Preopen: "data", ReadOnly: readOnly, Base: base, Inherit: inherit})
	t.Cleanup(s.Files.CloseAll)
	g := &guest{t: t, s: s, m: make(mem, 1<<16), host: host, funcs: map[string]Func{}}
	for _, f := range Functions() {
		g.funcs[f.Name] = f
	}
	return g
}

// call runs a function with params and returns its errno.
func (g *guest) call(name string, params ...uint64) Errno {
	g.t.Helper()
	f, ok := g.funcs[name]
	if !ok {
		g.t.Fatalf("no function %s", name)
	}
	if len(params) != len(f.Params) {
		g.t.Fatalf("%s takes %d parameters, got %d", name, len(f.Params), len(params))
	}
	st := append(params, 0)
	f.Call(g.s, g.m, st)
	return Errno(st[0])
}

// str puts s in memory at off and returns (off, len).
func (g *guest) str(off uint32, s string) (uint64, uint64) {
	copy(g.m[off:], s)
	return uint64(off), uint64(len(s))
}

// open opens path in fd 3 with rights and returns the new fd.
func (g *guest) open(path string, oflags uint64, base, inherit Rights) (int32, Errno) {
	g.t.Helper()
	p, n := g.str(1000, path)
	errno := g.call("path_open", 3, LookupSymlinkFollow, p, n, oflags, uint64(base), uint64(inherit), 0, 2000)
	fd, _ := g.m.ReadUint32Le(2000)
	return int32(fd), errno
}

// iov writes one iovec at 3000 naming len bytes at 4000.
func (g *guest) iov(data []byte) uint64 {
	copy(g.m[4000:], data)
	g.m.WriteUint32Le(3000, 4000)
	g.m.WriteUint32Le(3004, uint32(len(data)))
	return 3000
}

// TestReadOnlyRights: a file opened with read rights only cannot be
// changed through any call, and rights dropped cannot be regained.
func TestReadOnlyRights(t *testing.T) {
	g := newGuest(t, false)
	if err := os.WriteFile(filepath.Join(g.host, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, errno := g.open("f", 0, RightFdRead|RightFdSeek|RightFdTell|RightFdFilestatGet|RightFdFdstatSetFlags, 0)
	if errno != ESUCCESS {
		t.Fatal(errno)
	}
	f := uint64(fd)
	denied := map[string]Errno{
		"fd_write":              g.call("fd_write", f, g.iov([]byte("x")), 1, 5000),
		"fd_pwrite":             g.call("fd_pwrite", f, g.iov([]byte("x")), 1, 0, 5000),
		"fd_filestat_set_size":  g.call("fd_filestat_set_size", f, 0),
		"fd_filestat_set_times": g.call("fd_filestat_set_times", f, 1, 1, FstflagAtim|FstflagMtim),
		"fd_allocate":           g.call("fd_allocate", f, 0, 100),
		"fd_datasync":           g.call("fd_datasync", f),
	}
	for name, errno := range denied {
		if errno != ENOTCAPABLE {
			t.Errorf("%s on a read-only descriptor: errno %d, want ENOTCAPABLE", name, errno)
		}
	}
	// Setting append does not make it writable either.
	if errno := g.call("fd_fdstat_set_flags", f, uint64(FdflagAppend)); errno != ESUCCESS {
		t.Fatalf("set append: %d", errno)
	}
	if errno := g.call("fd_write", f, g.iov([]byte("x")), 1, 5000); errno != ENOTCAPABLE {
		t.Fatalf("write after set append: %d", errno)
	}
	if data, _ := os.ReadFile(filepath.Join(g.host, "f")); string(data) != "hello" {
		t.Fatalf("the file changed: %q", data)
	}
	// Reading works; dropping FD_READ ends it, and it cannot come back.
	if errno := g.call("fd_read", f, g.iov(make([]byte, 5)), 1, 5000); errno != ESUCCESS {
		t.Fatalf("read: %d", errno)
	}
	if errno := g.call("fd_fdstat_set_rights", f, uint64(RightFdSeek), 0); errno != ESUCCESS {
		t.Fatalf("drop rights: %d", errno)
	}
	if errno := g.call("fd_read", f, g.iov(make([]byte, 5)), 1, 5000); errno != ENOTCAPABLE {
		t.Fatalf("read after dropping FD_READ: %d", errno)
	}
	if errno := g.call("fd_fdstat_set_rights", f, uint64(RightFdSeek|RightFdRead), 0); errno != ENOTCAPABLE {
		t.Fatalf("regaining FD_READ: %d, want ENOTCAPABLE", errno)
	}
	// What fdstat reports is what holds.
	if errno := g.call("fd_fdstat_get", f, 6000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if base, _ := g.m.ReadUint64Le(6008); Rights(base) != RightFdSeek {
		t.Fatalf("fdstat rights %#x, want FD_SEEK only", base)
	}
}

// TestInheritedRights: a directory that drops an inheriting right passes
// on no more than it keeps; a descriptor opened through it cannot get it.
func TestInheritedRights(t *testing.T) {
	g := newGuest(t, false)
	_, inherit := PreopenRights()
	if errno := g.call("fd_fdstat_set_rights", 3, uint64(DirRights), uint64(inherit&^RightFdWrite)); errno != ESUCCESS {
		t.Fatal(errno)
	}
	fd, errno := g.open("new", OflagCreat, RightFdRead|RightFdWrite, 0)
	if errno != ESUCCESS {
		t.Fatal(errno)
	}
	if errno := g.call("fd_write", uint64(fd), g.iov([]byte("x")), 1, 5000); errno != ENOTCAPABLE {
		t.Fatalf("write through a descriptor whose directory does not pass FD_WRITE on: %d", errno)
	}
	// Without PATH_CREATE_FILE the directory creates nothing.
	if errno := g.call("fd_fdstat_set_rights", 3, uint64(DirRights), uint64(inherit)); errno != ENOTCAPABLE {
		t.Fatalf("regaining an inheriting right: %d", errno)
	}
	if errno := g.call("fd_fdstat_set_rights", 3, uint64(DirRights&^RightPathCreateFile), uint64(inherit&^RightFdWrite)); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if _, errno := g.open("other", OflagCreat, RightFdRead, 0); errno != ENOTCAPABLE {
		t.Fatalf("create without PATH_CREATE_FILE: %d", errno)
	}
	if _, err := os.Stat(filepath.Join(g.host, "other")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file was created: %v", err)
	}
}

// TestRenumberOverPreopen: any descriptor, a preopen included, can be
// renumbered over; a closed destination is EBADF.
func TestRenumberOverPreopen(t *testing.T) {
	g := newGuest(t, false)
	fd, errno := g.open(".", OflagDirectory, RightFdReaddir|RightPathOpen, 0)
	if errno != ESUCCESS {
		t.Fatal(errno)
	}
	if errno := g.call("fd_renumber", uint64(fd), 3); errno != ESUCCESS {
		t.Fatalf("renumber over the preopen: %d", errno)
	}
	if errno := g.call("fd_prestat_get", 3, 7000); errno != EBADF {
		t.Fatalf("fd 3 is still a preopen: %d", errno)
	}
	if errno := g.call("fd_fdstat_get", uint64(fd), 7000); errno != EBADF {
		t.Fatalf("the old number is still open: %d", errno)
	}
	if errno := g.call("fd_renumber", 3, 99); errno != EBADF {
		t.Fatalf("renumber onto a closed number: %d", errno)
	}
}

// TestPreopenName: the preopen's name is reported as given (relative).
func TestPreopenName(t *testing.T) {
	g := newGuest(t, false)
	if errno := g.call("fd_prestat_get", 3, 7000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if n, _ := g.m.ReadUint32Le(7004); n != 4 {
		t.Fatalf("name length %d", n)
	}
	if errno := g.call("fd_prestat_dir_name", 3, 7100, 2); errno != ENAMETOOLONG {
		t.Fatalf("short buffer: %d", errno)
	}
	if errno := g.call("fd_prestat_dir_name", 3, 7100, 4); errno != ESUCCESS || string(g.m[7100:7104]) != "data" {
		t.Fatalf("name %q errno %d", g.m[7100:7104], errno)
	}
	if errno := g.call("fd_prestat_get", 1, 7000); errno != EBADF {
		t.Fatalf("stdout as a preopen: %d", errno)
	}
}

// TestEscapes: a path never leaves the directory it is resolved in.
func TestEscapes(t *testing.T) {
	g := newGuest(t, false)
	outside := filepath.Join(filepath.Dir(g.host), "secret")
	_ = os.WriteFile(outside, []byte("s"), 0o644)
	if err := os.Symlink(outside, filepath.Join(g.host, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(g.host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../secret", "/etc/passwd", "sub/../../secret", "link"} {
		if _, errno := g.open(p, 0, RightFdRead, 0); errno == ESUCCESS {
			t.Errorf("opened %q", p)
		}
	}
	// Through a subdirectory's descriptor, its parent is out of reach too.
	sub, errno := g.open("sub", OflagDirectory, RightPathOpen, RightFdRead)
	if errno != ESUCCESS {
		t.Fatal(errno)
	}
	p, n := g.str(1000, "../link")
	if errno := g.call("path_open", uint64(sub), 0, p, n, 0, uint64(RightFdRead), 0, 0, 2000); errno != EPERM {
		t.Fatalf("climbing out of a subdirectory descriptor: %d, want EPERM", errno)
	}
	// An absolute symlink target is refused when made.
	t1, l1 := g.str(1000, "/etc")
	t2, l2 := g.str(1100, "abs")
	if errno := g.call("path_symlink", t1, l1, 3, t2, l2); errno != EPERM {
		t.Fatalf("absolute symlink: %d", errno)
	}
}

// TestSetTimesFlags: contradictory or unknown fstflags are EINVAL.
func TestSetTimesFlags(t *testing.T) {
	g := newGuest(t, false)
	fd, errno := g.open("f", OflagCreat, RightFdFilestatSetTimes|RightFdFilestatGet, 0)
	if errno != ESUCCESS {
		t.Fatal(errno)
	}
	for _, flags := range []uint64{FstflagAtim | FstflagAtimNow, FstflagMtim | FstflagMtimNow, 16, 1 << 15} {
		if errno := g.call("fd_filestat_set_times", uint64(fd), 1, 1, flags); errno != EINVAL {
			t.Errorf("flags %#x: errno %d", flags, errno)
		}
	}
	if errno := g.call("fd_filestat_set_times", uint64(fd), 0, 1_000_000_000, FstflagMtim); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if errno := g.call("fd_filestat_get", uint64(fd), 8000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if mtim, _ := g.m.ReadUint64Le(8048); mtim != 1_000_000_000 {
		t.Fatalf("mtim %d", mtim)
	}
}

// TestArguments: out-of-range memory is EFAULT, too many iovecs EINVAL,
// closed descriptors EBADF, sockets operations on files ENOTSOCK.
func TestArguments(t *testing.T) {
	g := newGuest(t, false)
	fd, errno := g.open("f", OflagCreat, RightFdRead|RightFdWrite|RightFdSeek, 0)
	if errno != ESUCCESS {
		t.Fatal(errno)
	}
	f := uint64(fd)
	end := uint64(len(g.m))
	tests := []struct {
		name string
		got  Errno
		want Errno
	}{
		{"iovs past memory", g.call("fd_write", f, end-4, 1, 5000), EFAULT},
		{"iov buffer past memory", func() Errno {
			g.m.WriteUint32Le(3000, uint32(end-2))
			g.m.WriteUint32Le(3004, 100)
			return g.call("fd_write", f, 3000, 1, 5000)
		}(), EFAULT},
		{"too many iovecs", g.call("fd_read", f, 3000, MaxIOVecs+1, 5000), EINVAL},
		{"tell without FD_TELL", g.call("fd_tell", f, end), ENOTCAPABLE},
		{"seek result past memory", g.call("fd_seek", f, 0, WhenceSet, end), EFAULT},
		{"closed fd", g.call("fd_read", 77, 3000, 1, 5000), EBADF},
		{"negative fd", g.call("fd_close", 1<<31), EBADF},
		{"path past memory", g.call("path_open", 3, 0, end-1, 10, 0, 0, 0, 0, 2000), EFAULT},
		{"path too long", g.call("path_open", 3, 0, 0, maxPath+1, 0, 0, 0, 0, 2000), ENAMETOOLONG},
		{"bad oflags", g.call("path_open", 3, 0, 1000, 1, 1<<9, 0, 0, 0, 2000), EINVAL},
		{"sock on a file", g.call("sock_shutdown", f, ShutWR), ENOTSOCK},
		{"sock_accept on a file", g.call("sock_accept", f, 0, 5000), ENOTSOCK},
		{"bad whence", g.call("fd_seek", f, 0, 3, 5000), EINVAL},
		{"bad advice", g.call("fd_advise", f, 0, 0, 9), ENOTCAPABLE},
		{"unknown clock", g.call("clock_time_get", 9, 0, 5000), EINVAL},
		{"no subscriptions", g.call("poll_oneoff", 100, 200, 0, 5000), EINVAL},
		{"seek on stdout", g.call("fd_seek", 1, 0, 0, 5000), ENOTCAPABLE},
		{"raise", g.call("proc_raise", 9), ENOSYS},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: errno %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// TestReaddir: entries with "." and ".." first, cookies resuming, a small
// buffer cut short (the guest asks again).
func TestReaddir(t *testing.T) {
	g := newGuest(t, false)
	for _, n := range []string{"a", "bb", "ccc"} {
		if err := os.WriteFile(filepath.Join(g.host, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if errno := g.call("fd_readdir", 3, 9000, 4096, 0, 5000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	used, _ := g.m.ReadUint32Le(5000)
	var names []string
	for off := uint32(9000); off < 9000+used; {
		n, _ := g.m.ReadUint32Le(off + 16)
		names = append(names, string(g.m[off+24:off+24+n]))
		off += 24 + n
	}
	if len(names) != 5 || names[0] != "." || names[1] != ".." {
		t.Fatalf("entries %q", names)
	}
	// A buffer for about one entry: it is full, and the next call resumes.
	if errno := g.call("fd_readdir", 3, 9000, 30, 2, 5000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if used, _ := g.m.ReadUint32Le(5000); used != 30 {
		t.Fatalf("used %d of a 30-byte buffer", used)
	}
	if next, _ := g.m.ReadUint64Le(9000); next != 3 {
		t.Fatalf("d_next %d", next)
	}
	if errno := g.call("fd_readdir", 3, 9000, 4096, 99, 5000); errno != EINVAL {
		t.Fatalf("cookie past the end: %d", errno)
	}
}

// TestPollFakeClock: without the clock, a relative timeout fires at once
// and a bad subscription is an event with its error.
func TestPollFakeClock(t *testing.T) {
	g := newGuest(t, false)
	sub := func(at uint32, userdata uint64, typ byte, fd uint32, timeout uint64) {
		var b [subscriptionSize]byte
		binary.LittleEndian.PutUint64(b[0:], userdata)
		b[8] = typ
		binary.LittleEndian.PutUint32(b[16:], fd)
		binary.LittleEndian.PutUint64(b[24:], timeout)
		copy(g.m[at:], b[:])
	}
	sub(100, 1, EventtypeClock, ClockMonotonic, 1e9)
	sub(148, 2, 7, 0, 0) // an unknown type
	if errno := g.call("poll_oneoff", 100, 400, 2, 5000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	n, _ := g.m.ReadUint32Le(5000)
	if n != 1 {
		t.Fatalf("%d events, want the bad subscription's only (it comes first)", n)
	}
	if ud, _ := g.m.ReadUint64Le(400); ud != 2 {
		t.Fatalf("event userdata %d", ud)
	}
	if e, _ := g.m.ReadUint16Le(408); Errno(e) != EINVAL {
		t.Fatalf("event errno %d", e)
	}
	sub(148, 3, EventtypeFdRead, 3, 0)  // a directory: ready
	sub(196, 4, EventtypeFdRead, 42, 0) // closed: EBADF
	if errno := g.call("poll_oneoff", 100, 400, 3, 5000); errno != ESUCCESS {
		t.Fatal(errno)
	}
	if n, _ := g.m.ReadUint32Le(5000); n != 2 {
		t.Fatalf("%d events", n)
	}
	if e, _ := g.m.ReadUint16Le(400 + eventSize + 8); Errno(e) != EBADF {
		t.Fatalf("closed fd event errno %d", e)
	}
	if !bytes.Equal(g.m[400:408], binary.LittleEndian.AppendUint64(nil, 3)) {
		t.Fatalf("first event %v", g.m[400:432])
	}
}
