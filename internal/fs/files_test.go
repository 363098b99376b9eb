//go:build unix

package fs

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// filesSandbox: "in" (readable, "photo"), "out" (writable, empty), "pipe"
// (the read end of a pipe holding "piped").
type filesSandbox struct {
	fsys     experimentalsys.FS
	in, out  *os.File
	pipe     *os.File
	outPath  string
	pipeWEnd *os.File
}

func newFilesSandbox(t *testing.T, q *Quota) filesSandbox {
	t.Helper()
	tmp := t.TempDir()
	must(t, os.WriteFile(filepath.Join(tmp, "photo.png"), []byte("photo"), 0o644))
	in, err := os.Open(filepath.Join(tmp, "photo.png"))
	must(t, err)
	outPath := filepath.Join(tmp, "result.png")
	out, err := os.OpenFile(outPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644) // O_RDWR on purpose
	must(t, err)
	r, w, err := os.Pipe()
	must(t, err)
	_, err = w.Write([]byte("piped"))
	must(t, err)
	fsys, err := Files([]Handle{{Name: "out", File: out, Writable: true}, {Name: "in", File: in}, {Name: "pipe", File: r}}, q)
	must(t, err)
	t.Cleanup(func() {
		_ = fsys.(io.Closer).Close()
		_ = w.Close()
	})
	return filesSandbox{fsys: fsys, in: in, out: out, pipe: r, outPath: outPath, pipeWEnd: w}
}

func TestFilesValidation(t *testing.T) {
	tmp := t.TempDir()
	ro, err := os.Create(filepath.Join(tmp, "f"))
	must(t, err)
	ro.Close()
	ro, err = os.Open(filepath.Join(tmp, "f"))
	must(t, err)
	defer ro.Close()
	wo, err := os.OpenFile(filepath.Join(tmp, "f"), os.O_WRONLY, 0)
	must(t, err)
	defer wo.Close()
	dir, err := os.Open(tmp)
	must(t, err)
	defer dir.Close()
	for _, tt := range []struct {
		name    string
		handles []Handle
		want    string
	}{
		{"nil file", []Handle{{Name: "a"}}, "nil file"},
		{"empty name", []Handle{{Name: "", File: ro}}, "invalid name"},
		{"dot", []Handle{{Name: ".", File: ro}}, "invalid name"},
		{"dotdot", []Handle{{Name: "..", File: ro}}, "invalid name"},
		{"slash", []Handle{{Name: "a/b", File: ro}}, "invalid name"},
		{"duplicate", []Handle{{Name: "a", File: ro}, {Name: "a", File: ro}}, "duplicate"},
		{"writable read-only handle", []Handle{{Name: "a", File: ro, Writable: true}}, "not open for writing"},
		{"readable write-only handle", []Handle{{Name: "a", File: wo}}, "not open for reading"},
		{"directory", []Handle{{Name: "a", File: dir}}, "directory"},
	} {
		_, err := Files(tt.handles, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	// A failed Files closes nothing.
	if _, err := ro.Stat(); err != nil {
		t.Fatal("handle closed by a failed Files")
	}
}

func TestFilesOpen(t *testing.T) {
	s := newFilesSandbox(t, nil)
	d := s.fsys
	for _, tt := range []struct {
		path string
		flag experimentalsys.Oflag
		want experimentalsys.Errno
	}{
		{"in", rdonly, 0},
		{"/in", rdonly, 0},
		{"out", wronly, 0},
		{"out", wronly | creat, 0},
		{".", rdonly, 0},
		{".", odir, 0},
		{"in", rdwr, experimentalsys.EACCES},
		{"in", wronly, experimentalsys.EACCES},
		{"in", rdonly | trunc, experimentalsys.EACCES},
		{"in", rdonly | appnd, experimentalsys.EACCES},
		{"out", rdonly, experimentalsys.EACCES},
		{"out", rdwr, experimentalsys.EACCES},
		{"in", odir, experimentalsys.ENOTDIR},
		{"in/", rdonly, experimentalsys.ENOTDIR},
		{"in/x", rdonly, experimentalsys.ENOTDIR},
		{"in", rdonly | creat | excl, experimentalsys.EEXIST},
		{"missing", rdonly, experimentalsys.ENOENT},
		{"missing/x", rdonly, experimentalsys.ENOENT},
		{"missing", wronly | creat, experimentalsys.EROFS},
		{"..", rdonly, experimentalsys.EPERM},
		{"../in", rdonly, experimentalsys.EPERM},
		{".", rdwr, experimentalsys.EISDIR},
		{".", rdonly | creat, experimentalsys.EISDIR},
	} {
		f, errno := d.OpenFile(tt.path, tt.flag, 0o600)
		wantErrno(t, "open "+tt.path, errno, tt.want)
		if f != nil {
			f.Close()
		}
	}
}

func TestFilesIO(t *testing.T) {
	s := newFilesSandbox(t, nil)
	d := s.fsys
	in := openT(t, d, "in", rdonly)
	if got := readAll(t, in); got != "photo" {
		t.Fatalf("in: %q", got)
	}
	buf := make([]byte, 3)
	wantErrno(t, "write readable entry", second(in.Write(buf)), experimentalsys.EBADF)
	wantErrno(t, "utimens entry", in.Utimens(0, 0), experimentalsys.EROFS)

	out := openT(t, d, "out", wronly|trunc)
	writeT(t, out, "result")
	// The host handle is O_RDWR, but the guest opened it write-only.
	wantErrno(t, "read writable entry", second(out.Read(buf)), experimentalsys.EBADF)
	if errno := out.SetAppend(true); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := out.Pwrite([]byte("R"), 0); errno != 0 {
		t.Fatal(errno)
	}
	if b, _ := os.ReadFile(s.outPath); string(b) != "Result" {
		t.Fatalf("out: %q", b)
	}
	if errno := out.Truncate(3); errno != 0 {
		t.Fatal(errno)
	}

	pipe := openT(t, d, "pipe", rdonly)
	s.pipeWEnd.Close()
	if got := readAll(t, pipe); got != "piped" {
		t.Fatalf("pipe: %q", got)
	}

	// Closing guest descriptors never closes the host handles.
	in.Close()
	out.Close()
	if _, err := s.in.Stat(); err != nil {
		t.Fatalf("host handle closed by the guest: %v", err)
	}
	if _, err := s.out.WriteAt([]byte("!"), 3); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s.outPath); string(b) != "Res!" {
		t.Fatalf("out: %q", b)
	}
	// Closing the FS closes them all.
	if err := d.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.in.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("handle still open after Close: %v", err)
	}
	if err := d.(io.Closer).Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A guest file outlived its FS: errors, never panics.
	if _, errno := pipe.Read(buf); errno != experimentalsys.EBADF {
		t.Fatalf("read after FS close: %v", errno)
	}
}

func TestFilesDirectory(t *testing.T) {
	s := newFilesSandbox(t, nil)
	d := s.fsys
	st, errno := d.Stat(".")
	if errno != 0 || !st.Mode.IsDir() || st.Ino == 0 {
		t.Fatalf("stat .: %+v %v", st, errno)
	}
	inSt, errno := d.Lstat("in")
	if errno != 0 || inSt.Size != 5 || !inSt.Mode.IsRegular() {
		t.Fatalf("lstat in: %+v %v", inSt, errno)
	}
	if pst, _ := d.Stat("pipe"); pst.Mode.Type() != iofs.ModeNamedPipe {
		t.Fatalf("pipe type %v", pst.Mode)
	}
	_, errno = d.Stat("missing")
	wantErrno(t, "stat missing", errno, experimentalsys.ENOENT)
	_, errno = d.Readlink("in")
	wantErrno(t, "readlink", errno, experimentalsys.EINVAL)

	dir := openT(t, d, ".", odir)
	if ino, _ := dir.Ino(); ino != st.Ino {
		t.Fatalf("dir ino %d vs %d", ino, st.Ino)
	}
	first, errno := dir.Readdir(2)
	if errno != 0 || len(first) != 2 {
		t.Fatalf("Readdir(2): %v %v", first, errno)
	}
	rest, _ := dir.Readdir(-1)
	all := append(first, rest...)
	if names := direntNames(t, all); !slices.Equal(names, []string{"in", "out", "pipe"}) {
		t.Fatalf("entries %v", names)
	}
	if all[0].Ino != inSt.Ino {
		t.Fatalf("dirent ino %d, stat ino %d", all[0].Ino, inSt.Ino)
	}
	if more, _ := dir.Readdir(1); len(more) != 0 {
		t.Fatalf("after end: %v", more)
	}
	seekT(t, dir, 0, io.SeekStart)
	if again, _ := dir.Readdir(0); len(again) != 3 {
		t.Fatalf("after rewind: %v", again)
	}
	buf := make([]byte, 1)
	wantErrno(t, "seek dir", second(Seek(dir, 1, io.SeekStart)), experimentalsys.EISDIR)
	wantErrno(t, "read dir", second(dir.Read(buf)), experimentalsys.EISDIR)
	wantErrno(t, "write dir", second(dir.Write(buf)), experimentalsys.EISDIR)
	wantErrno(t, "utimens dir", dir.Utimens(0, 0), experimentalsys.EROFS)
	dir.Close()
	wantErrno(t, "readdir closed", second(dir.Readdir(1)), experimentalsys.EBADF)
	wantErrno(t, "stat closed", second(dir.Stat()), experimentalsys.EBADF)

	for name, errno := range map[string]experimentalsys.Errno{
		"mkdir":   d.Mkdir("x", 0o755),
		"rmdir":   d.Rmdir("in"),
		"unlink":  d.Unlink("in"),
		"rename":  d.Rename("in", "x"),
		"link":    d.Link("in", "x"),
		"symlink": d.Symlink("in", "x"),
		"chmod":   d.Chmod("in", 0o777),
		"utimens": d.Utimens("in", 0, 0),
	} {
		wantErrno(t, name, errno, experimentalsys.EROFS)
	}
}

// Dir and Files mounts of one process share its quota.
func TestFilesQuota(t *testing.T) {
	q := NewQuota(2)
	s := newFilesSandbox(t, q)
	d := newSandbox(t).dir(t, false, q)
	a := openT(t, s.fsys, "in", rdonly)
	b := openT(t, d, "a.txt", rdonly)
	if _, errno := s.fsys.OpenFile("in", rdonly, 0); errno != EMFILE {
		t.Fatalf("files over quota: %v", errno)
	}
	if _, errno := s.fsys.OpenFile(".", rdonly, 0o600); errno != EMFILE {
		t.Fatalf("files dir over quota: %v", errno)
	}
	if _, errno := d.OpenFile("a.txt", rdonly, 0); errno != EMFILE {
		t.Fatalf("dir over quota: %v", errno)
	}
	if q.Open() != 2 || q.Denied() != 3 {
		t.Fatalf("open=%d denied=%d", q.Open(), q.Denied())
	}
	a.Close()
	a.Close()
	c := openT(t, d, "a.txt", rdonly)
	b.Close()
	c.Close()
	if q.Open() != 0 {
		t.Fatalf("open=%d", q.Open())
	}
}
