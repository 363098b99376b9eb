//go:build unix

package fs

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"golang.org/x/sys/unix"
)

func openT(t *testing.T, d experimentalsys.FS, p string, flag experimentalsys.Oflag) experimentalsys.File {
	t.Helper()
	f, errno := d.OpenFile(p, flag, 0o600)
	if errno != 0 {
		t.Fatalf("open %q: %v", p, errno)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func writeT(t *testing.T, f experimentalsys.File, s string) {
	t.Helper()
	if n, errno := f.Write([]byte(s)); errno != 0 || n != len(s) {
		t.Fatalf("write %q: %d %v", s, n, errno)
	}
}

func seekT(t *testing.T, f experimentalsys.File, off int64, whence int) int64 {
	t.Helper()
	n, errno := Seek(f, off, whence)
	if errno != 0 {
		t.Fatalf("seek: %v", errno)
	}
	return n
}

func appendFlagSet(t *testing.T, f experimentalsys.File) bool {
	t.Helper()
	var fl int
	must(t, control(f.(*file).f, func(fd int) (err error) {
		fl, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		return err
	}))
	return fl&unix.O_APPEND != 0
}

// WASI pwrite writes at the given offset even in append mode (Linux pwrite
// would append), does not move the file offset, and append mode survives.
func TestPwriteAppend(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	f := openT(t, d, "p", wronly|creat|trunc|appnd)
	if !f.IsAppend() || !appendFlagSet(t, f) {
		t.Fatal("not in append mode")
	}
	writeT(t, f, "ab")
	seekT(t, f, 0, io.SeekStart)
	writeT(t, f, "cd") // appends
	if off := seekT(t, f, 0, io.SeekCurrent); off != 4 {
		t.Fatalf("offset %d after append, want 4", off)
	}
	if n, errno := f.Pwrite([]byte("XYZ"), 0); n != 3 || errno != 0 {
		t.Fatalf("pwrite: %d %v", n, errno)
	}
	if off := seekT(t, f, 0, io.SeekCurrent); off != 4 {
		t.Fatalf("pwrite moved the offset to %d", off)
	}
	if end := seekT(t, f, 0, io.SeekEnd); end != 4 {
		t.Fatalf("pwrite appended: size %d, want 4", end)
	}
	if !appendFlagSet(t, f) {
		t.Fatal("O_APPEND not restored after pwrite")
	}
	seekT(t, f, 0, io.SeekStart)
	writeT(t, f, "e") // still appends
	if b, _ := os.ReadFile(filepath.Join(s.mount, "p")); string(b) != "XYZde" {
		t.Fatalf("content %q, want XYZde", b)
	}
	// Pwrite past the end extends the file.
	if _, errno := f.Pwrite([]byte("!"), 7); errno != 0 {
		t.Fatal(errno)
	}
	if b, _ := os.ReadFile(filepath.Join(s.mount, "p")); string(b) != "XYZde\x00\x00!" {
		t.Fatalf("content %q", b)
	}
}

func TestSetAppend(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	f := openT(t, d, "a.txt", rdwr)
	if f.IsAppend() || appendFlagSet(t, f) {
		t.Fatal("append mode without O_APPEND")
	}
	if errno := f.SetAppend(true); errno != 0 {
		t.Fatal(errno)
	}
	if !f.IsAppend() || !appendFlagSet(t, f) {
		t.Fatal("SetAppend(true) not applied to the descriptor")
	}
	seekT(t, f, 0, io.SeekStart)
	writeT(t, f, "!")
	if errno := f.SetAppend(false); errno != 0 {
		t.Fatal(errno)
	}
	if f.IsAppend() || appendFlagSet(t, f) {
		t.Fatal("SetAppend(false) not applied")
	}
	seekT(t, f, 0, io.SeekStart)
	writeT(t, f, "J")
	if b, _ := os.ReadFile(filepath.Join(s.mount, "a.txt")); string(b) != "Jello!" {
		t.Fatalf("content %q", b)
	}
	dir := openT(t, d, "sub", odir)
	wantErrno(t, "SetAppend dir", dir.SetAppend(true), experimentalsys.EISDIR)
}

// Concurrent Write and Pwrite on one append-mode file: run with -race. Every
// Write must append, so the final size is exact.
func TestPwriteAppendConcurrent(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	f := openT(t, d, "c", wronly|creat|appnd)
	writeT(t, f, "0123456789")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if i%2 == 0 {
					Seek(f, 0, io.SeekStart)
					f.Write([]byte("w"))
				} else {
					f.Pwrite([]byte("p"), 0)
				}
			}
		}()
	}
	wg.Wait()
	if end := seekT(t, f, 0, io.SeekEnd); end != 10+100 {
		t.Fatalf("size %d, want 110", end)
	}
}

func TestFileErrnos(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	ro := openT(t, d, "a.txt", rdonly)
	wo := openT(t, d, "sub/b.txt", wronly)
	dir := openT(t, d, "sub", odir)
	buf := make([]byte, 4)
	checks := []struct {
		name string
		got  experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"write read-only", second(ro.Write(buf)), experimentalsys.EBADF},
		{"pwrite read-only", second(ro.Pwrite(buf, 0)), experimentalsys.EBADF},
		{"truncate read-only", ro.Truncate(0), experimentalsys.EBADF},
		{"read write-only", second(wo.Read(buf)), experimentalsys.EBADF},
		{"pread write-only", second(wo.Pread(buf, 0)), experimentalsys.EBADF},
		{"read dir", second(dir.Read(buf)), experimentalsys.EISDIR},
		{"pread dir", second(dir.Pread(buf, 0)), experimentalsys.EISDIR},
		{"write dir", second(dir.Write(buf)), experimentalsys.EISDIR},
		{"pwrite dir", second(dir.Pwrite(buf, 0)), experimentalsys.EISDIR},
		{"truncate dir", dir.Truncate(0), experimentalsys.EISDIR},
		{"seek dir non-zero", second(Seek(dir, 1, io.SeekStart)), experimentalsys.EISDIR},
		{"readdir file", second(ro.Readdir(-1)), experimentalsys.EBADF},
		{"pread negative", second(ro.Pread(buf, -1)), experimentalsys.EINVAL},
		{"pwrite negative", second(wo.Pwrite(buf, -1)), experimentalsys.EINVAL},
		{"truncate negative", wo.Truncate(-1), experimentalsys.EINVAL},
		{"seek bad whence", second(Seek(ro, 0, 3)), experimentalsys.EINVAL},
		{"seek before start", second(Seek(ro, -1, io.SeekStart)), experimentalsys.EINVAL},
		{"sync", ro.Sync(), 0},
		{"datasync", wo.Datasync(), 0},
		{"sync dir", dir.Sync(), 0},
	}
	for _, c := range checks {
		wantErrno(t, c.name, c.got, c.want)
	}
	if n, errno := ro.Pread(buf, 1); n != 4 || errno != 0 || string(buf) != "ello" {
		t.Errorf("pread: %d %v %q", n, errno, buf)
	}
	if n, errno := ro.Pread(buf, 100); n != 0 || errno != 0 {
		t.Errorf("pread past EOF: %d %v", n, errno)
	}
	if n, errno := ro.Read(nil); n != 0 || errno != 0 {
		t.Errorf("empty read: %d %v", n, errno)
	}
	if errno := wo.Truncate(0); errno != 0 {
		t.Errorf("truncate: %v", errno)
	}
}

func second[T any](_ T, errno experimentalsys.Errno) experimentalsys.Errno { return errno }

func TestFileClosed(t *testing.T) {
	s := newSandbox(t)
	q := NewQuota(0)
	d := s.dir(t, false, q)
	f, _ := d.OpenFile("a.txt", rdwr, 0)
	if q.Open() != 1 {
		t.Fatal(q.Open())
	}
	if errno := f.Close(); errno != 0 {
		t.Fatal(errno)
	}
	if errno := f.Close(); errno != 0 || q.Open() != 0 {
		t.Fatalf("second close: %v, open=%d", errno, q.Open())
	}
	buf := make([]byte, 1)
	const ebadf = experimentalsys.EBADF
	for name, errno := range map[string]experimentalsys.Errno{
		"Dev":       second(f.Dev()),
		"Ino":       second(f.Ino()),
		"IsDir":     second(f.IsDir()),
		"SetAppend": f.SetAppend(true),
		"Stat":      second(f.Stat()),
		"Read":      second(f.Read(buf)),
		"Pread":     second(f.Pread(buf, 0)),
		"Seek":      second(Seek(f, 0, io.SeekStart)),
		"Readdir":   second(f.Readdir(1)),
		"Write":     second(f.Write(buf)),
		"Pwrite":    second(f.Pwrite(buf, 0)),
		"Truncate":  f.Truncate(0),
		"Sync":      f.Sync(),
		"Datasync":  f.Datasync(),
		"Utimens":   f.Utimens(0, 0),
	} {
		wantErrno(t, name+" after close", errno, ebadf)
	}
}

func TestFileStat(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	a := openT(t, d, "a.txt", rdonly)
	b := openT(t, d, "sub/b.txt", rdonly)
	st, errno := a.Stat()
	if errno != 0 || st.Size != 5 || !st.Mode.IsRegular() {
		t.Fatalf("stat %+v %v", st, errno)
	}
	dev, _ := a.Dev()
	ino, _ := a.Ino()
	isDir, _ := a.IsDir()
	if dev != st.Dev || ino != st.Ino || isDir || ino == 0 {
		t.Fatalf("dev/ino/isdir %d %d %v vs %+v", dev, ino, isDir, st)
	}
	devB, _ := b.Dev()
	inoB, _ := b.Ino()
	if devB != dev || inoB == ino {
		t.Fatalf("two files: dev %d/%d ino %d/%d", dev, devB, ino, inoB)
	}
	if pst, _ := d.Stat("a.txt"); pst.Ino != ino {
		t.Fatalf("path stat ino %d, file ino %d", pst.Ino, ino)
	}
	dir := openT(t, d, ".", rdonly)
	if isDir, errno := dir.IsDir(); !isDir || errno != 0 {
		t.Fatal("root is not a dir")
	}
}

func TestFileUtimens(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	f := openT(t, d, "a.txt", rdonly) // futimens needs ownership, not write access
	atim := time.Date(2003, 1, 1, 0, 0, 0, 123456789, time.UTC).UnixNano()
	mtim := time.Date(2004, 1, 1, 0, 0, 0, 987654321, time.UTC).UnixNano()
	if errno := f.Utimens(atim, mtim); errno != 0 {
		t.Fatal(errno)
	}
	st, _ := f.Stat()
	if st.Atim != atim || st.Mtim != mtim {
		t.Fatalf("times %d %d", st.Atim, st.Mtim)
	}
	if errno := f.Utimens(experimentalsys.UTIME_OMIT, mtim+1); errno != 0 {
		t.Fatal(errno)
	}
	if errno := f.Utimens(atim+1, experimentalsys.UTIME_OMIT); errno != 0 {
		t.Fatal(errno)
	}
	if errno := f.Utimens(experimentalsys.UTIME_OMIT, experimentalsys.UTIME_OMIT); errno != 0 {
		t.Fatal(errno)
	}
	st, _ = f.Stat()
	if st.Atim != atim+1 || st.Mtim != mtim+1 {
		t.Fatalf("times after omit %d %d", st.Atim, st.Mtim)
	}
}

func direntNames(t *testing.T, ds []experimentalsys.Dirent) []string {
	t.Helper()
	var names []string
	for _, d := range ds {
		if d.Ino == 0 {
			t.Errorf("dirent %q without inode", d.Name)
		}
		names = append(names, d.Name)
	}
	slices.Sort(names)
	return names
}

func TestReaddir(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	dir := openT(t, d, "sub", odir)
	must(t, os.WriteFile(filepath.Join(s.mount, "sub", "c.txt"), nil, 0o644))
	must(t, os.Symlink("b.txt", filepath.Join(s.mount, "sub", "l")))
	must(t, os.Mkdir(filepath.Join(s.mount, "sub", "d"), 0o755))
	first, errno := dir.Readdir(1)
	if errno != 0 || len(first) != 1 {
		t.Fatalf("Readdir(1): %v %v", first, errno)
	}
	rest, errno := dir.Readdir(-1)
	if errno != 0 {
		t.Fatal(errno)
	}
	all := append(first, rest...)
	if names := direntNames(t, all); !slices.Equal(names, []string{"b.txt", "c.txt", "d", "l"}) {
		t.Fatalf("entries %v (no . or ..)", names)
	}
	for _, e := range all {
		want := map[string]os.FileMode{"b.txt": 0, "c.txt": 0, "d": os.ModeDir, "l": os.ModeSymlink}[e.Name]
		if e.Type != want {
			t.Errorf("%s: type %v, want %v", e.Name, e.Type, want)
		}
	}
	if more, errno := dir.Readdir(10); len(more) != 0 || errno != 0 {
		t.Fatalf("after end: %v %v", more, errno)
	}
	// Rewinding restarts the listing and shows entries created since.
	must(t, os.WriteFile(filepath.Join(s.mount, "sub", "e.txt"), nil, 0o644))
	seekT(t, dir, 0, io.SeekStart)
	again, errno := dir.Readdir(0)
	if errno != 0 || len(again) != 5 {
		t.Fatalf("after rewind: %v %v", again, errno)
	}
}
