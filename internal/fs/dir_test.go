//go:build unix

package fs

import (
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// sandbox is a host layout for confinement tests:
//
//	<tmp>/outside/secret            "secret" (must never be read or written)
//	<tmp>/outside/dir/
//	<tmp>/mount/a.txt               "hello"
//	<tmp>/mount/sub/b.txt           "b"
//	<tmp>/mount/empty/
//	<tmp>/mount/in_link  -> a.txt
//	<tmp>/mount/dir_link -> sub
//	<tmp>/mount/rel_out  -> ../outside/secret
//	<tmp>/mount/abs_out  -> <tmp>/outside/secret
//	<tmp>/mount/dir_out  -> ../outside
//	<tmp>/mount/abs_dir  -> <tmp>/outside
//	<tmp>/mount/loop     -> loop
type sandbox struct {
	mount, outside string
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	tmp := t.TempDir()
	s := sandbox{mount: filepath.Join(tmp, "mount"), outside: filepath.Join(tmp, "outside")}
	for _, d := range []string{s.outside, filepath.Join(s.outside, "dir"), s.mount, filepath.Join(s.mount, "sub"), filepath.Join(s.mount, "empty")} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(s.outside, "secret"), []byte("secret"), 0o644))
	must(t, os.WriteFile(filepath.Join(s.mount, "a.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(s.mount, "sub", "b.txt"), []byte("b"), 0o644))
	for link, target := range map[string]string{
		"in_link":  "a.txt",
		"dir_link": "sub",
		"rel_out":  "../outside/secret",
		"abs_out":  filepath.Join(s.outside, "secret"),
		"dir_out":  "../outside",
		"abs_dir":  s.outside,
		"loop":     "loop",
	} {
		must(t, os.Symlink(target, filepath.Join(s.mount, link)))
	}
	return s
}

// checkOutside fails the test if anything outside the mount changed.
func (s sandbox) checkOutside(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.outside, "secret"))
	if err != nil || string(b) != "secret" {
		t.Fatalf("outside secret changed: %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(s.outside, "secret"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("outside secret mode changed: %v, %v", fi.Mode(), err)
	}
	ents, err := os.ReadDir(s.outside)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"dir", "secret"}) {
		t.Fatalf("outside directory changed: %v", names)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.outside, "dir")); len(ents) != 0 {
		t.Fatalf("outside/dir changed: %v", ents)
	}
}

func (s sandbox) dir(t *testing.T, readOnly bool, q *Quota) experimentalsys.FS {
	t.Helper()
	d, err := Dir(s.mount, readOnly, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.(io.Closer).Close() })
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErrno(t *testing.T, what string, got experimentalsys.Errno, want ...experimentalsys.Errno) {
	t.Helper()
	if !slices.Contains(want, got) {
		t.Errorf("%s: errno %v (%d), want %v", what, got, got, want)
	}
}

func readAll(t *testing.T, f experimentalsys.File) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 64)
	for {
		n, errno := f.Read(buf)
		if errno != 0 {
			t.Fatalf("read: %v", errno)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

const (
	rdonly = experimentalsys.O_RDONLY
	wronly = experimentalsys.O_WRONLY
	rdwr   = experimentalsys.O_RDWR
	creat  = experimentalsys.O_CREAT
	excl   = experimentalsys.O_EXCL
	trunc  = experimentalsys.O_TRUNC
	appnd  = experimentalsys.O_APPEND
	nofoll = experimentalsys.O_NOFOLLOW
	odir   = experimentalsys.O_DIRECTORY
)

func TestDirErrors(t *testing.T) {
	if _, err := Dir(filepath.Join(t.TempDir(), "missing"), false, nil); err == nil {
		t.Fatal("Dir on a missing directory succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(f, nil, 0o644))
	if _, err := Dir(f, false, nil); err == nil {
		t.Fatal("Dir on a file succeeded")
	}
}

func TestOpenFile(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	tests := []struct {
		name    string
		path    string
		flag    experimentalsys.Oflag
		want    []experimentalsys.Errno // empty: success
		content string                  // checked on success when set
	}{
		{name: "file", path: "a.txt", content: "hello"},
		{name: "nested", path: "sub/b.txt", content: "b"},
		{name: "leading slash is the mount root", path: "/a.txt", content: "hello"},
		{name: "host absolute path stays inside", path: "/etc/passwd", want: []experimentalsys.Errno{experimentalsys.ENOENT}},
		{name: "follow inner symlink", path: "in_link", content: "hello"},
		{name: "through inner dir symlink", path: "dir_link/b.txt", content: "b"},
		{name: "nofollow nested file", path: "sub/b.txt", flag: nofoll, content: "b"},
		{name: "root dir", path: ".", flag: odir},
		{name: "missing", path: "missing", want: []experimentalsys.Errno{experimentalsys.ENOENT}},
		{name: "missing parent", path: "nope/x", want: []experimentalsys.Errno{experimentalsys.ENOENT}},
		{name: "O_DIRECTORY on file", path: "a.txt", flag: odir, want: []experimentalsys.Errno{experimentalsys.ENOTDIR}},
		{name: "trailing slash on file", path: "a.txt/", want: []experimentalsys.Errno{experimentalsys.ENOTDIR}},
		{name: "file as parent", path: "a.txt/x", want: []experimentalsys.Errno{experimentalsys.ENOTDIR}},
		{name: "O_EXCL existing", path: "a.txt", flag: creat | excl | wronly, want: []experimentalsys.Errno{experimentalsys.EEXIST}},
		{name: "O_EXCL dangling symlink", path: "rel_out", flag: creat | excl | wronly, want: []experimentalsys.Errno{experimentalsys.EEXIST}},
		{name: "O_NOFOLLOW symlink", path: "in_link", flag: nofoll, want: []experimentalsys.Errno{experimentalsys.ELOOP}},
		{name: "O_NOFOLLOW|O_DIRECTORY dir symlink", path: "dir_link", flag: nofoll | odir, want: []experimentalsys.Errno{experimentalsys.ENOTDIR, experimentalsys.ELOOP}},
		{name: "O_NOFOLLOW trailing slash follows", path: "dir_link/", flag: nofoll | odir},
		{name: "symlink loop", path: "loop", want: []experimentalsys.Errno{experimentalsys.ELOOP}},
		{name: "symlink loop nofollow", path: "loop", flag: nofoll, want: []experimentalsys.Errno{experimentalsys.ELOOP}},
		{name: "dir read-write", path: "sub", flag: rdwr, want: []experimentalsys.Errno{experimentalsys.EISDIR}},
		{name: "root O_DIRECTORY read-write", path: ".", flag: odir | rdwr, want: []experimentalsys.Errno{experimentalsys.EISDIR}},
		{name: "bad access mode", path: "a.txt", flag: rdwr | wronly, want: []experimentalsys.Errno{experimentalsys.EINVAL}},
		// Confinement: every way out is refused, before or during resolution.
		{name: "dotdot", path: "../outside/secret", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "dotdot after cleaning", path: "sub/../../outside/secret", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "rooted dotdot", path: "/../outside/secret", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "relative symlink out", path: "rel_out", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "absolute symlink out", path: "abs_out", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "through relative dir symlink", path: "dir_out/secret", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "through absolute dir symlink", path: "abs_dir/secret", want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "nofollow through dir symlink", path: "dir_out/secret", flag: nofoll, want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "nofollow symlink out", path: "abs_out", flag: nofoll, want: []experimentalsys.Errno{experimentalsys.ELOOP}},
		{name: "truncate through symlink out", path: "rel_out", flag: wronly | trunc, want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "create through dir symlink out", path: "dir_out/new", flag: wronly | creat, want: []experimentalsys.Errno{experimentalsys.EPERM}},
		{name: "create through abs dir symlink out", path: "abs_dir/dir/new", flag: wronly | creat, want: []experimentalsys.Errno{experimentalsys.EPERM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errno := d.OpenFile(tt.path, tt.flag, 0o600)
			if len(tt.want) > 0 {
				wantErrno(t, "open "+tt.path, errno, tt.want...)
				if f != nil {
					t.Error("file returned with an error")
				}
				return
			}
			if errno != 0 {
				t.Fatalf("open %q: %v", tt.path, errno)
			}
			defer f.Close()
			if tt.content != "" {
				if got := readAll(t, f); got != tt.content {
					t.Errorf("content %q, want %q", got, tt.content)
				}
			}
		})
	}
	s.checkOutside(t)
}

func TestOpenFileCreate(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	for _, p := range []string{"new", "sub/new2", "/new3"} {
		for _, flag := range []experimentalsys.Oflag{wronly | creat, wronly | creat | nofoll} {
			f, errno := d.OpenFile(p, flag|excl, 0o600)
			if errno != 0 {
				t.Fatalf("create %q (%v): %v", p, flag, errno)
			}
			if n, errno := f.Write([]byte("x")); n != 1 || errno != 0 {
				t.Fatalf("write: %d %v", n, errno)
			}
			if errno := f.Close(); errno != 0 {
				t.Fatal(errno)
			}
			b, err := os.ReadFile(filepath.Join(s.mount, p))
			if err != nil || string(b) != "x" {
				t.Fatalf("created %q: %q %v", p, b, err)
			}
			if errno := d.Unlink(p); errno != 0 {
				t.Fatal(errno)
			}
		}
	}
	// O_TRUNC empties an existing file.
	f, errno := d.OpenFile("a.txt", wronly|trunc, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	f.Close()
	if b, _ := os.ReadFile(filepath.Join(s.mount, "a.txt")); len(b) != 0 {
		t.Fatalf("not truncated: %q", b)
	}
	s.checkOutside(t)
}

func TestStatLstatReadlink(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	st, errno := d.Lstat("in_link")
	if errno != 0 || st.Mode.Type() != iofs.ModeSymlink {
		t.Errorf("Lstat(in_link) = %v, %v", st.Mode, errno)
	}
	st, errno = d.Stat("in_link")
	if errno != 0 || !st.Mode.IsRegular() || st.Size != 5 || st.Ino == 0 {
		t.Errorf("Stat(in_link) = %+v, %v", st, errno)
	}
	if st, errno := d.Stat("."); errno != 0 || !st.Mode.IsDir() {
		t.Errorf("Stat(.) = %v, %v", st.Mode, errno)
	}
	if st, errno := d.Lstat("rel_out"); errno != 0 || st.Mode.Type() != iofs.ModeSymlink {
		t.Errorf("Lstat(rel_out) = %v, %v", st.Mode, errno)
	}
	for _, tt := range []struct {
		path string
		want experimentalsys.Errno
	}{
		{"rel_out", experimentalsys.EPERM},
		{"abs_out", experimentalsys.EPERM},
		{"dir_out/secret", experimentalsys.EPERM},
		{"../outside/secret", experimentalsys.EPERM},
		{"missing", experimentalsys.ENOENT},
		{"a.txt/", experimentalsys.ENOTDIR},
		{"loop", experimentalsys.ELOOP},
	} {
		_, errno := d.Stat(tt.path)
		wantErrno(t, "Stat "+tt.path, errno, tt.want)
	}
	for _, tt := range []struct {
		path, target string
		want         experimentalsys.Errno
	}{
		{"in_link", "a.txt", 0},
		{"rel_out", "../outside/secret", 0}, // raw target, even pointing out
		{"abs_out", filepath.Join(s.outside, "secret"), 0},
		{"a.txt", "", experimentalsys.EINVAL},
		{"missing", "", experimentalsys.ENOENT},
		{"../x", "", experimentalsys.EPERM},
		{"dir_out/secret", "", experimentalsys.EPERM},
	} {
		target, errno := d.Readlink(tt.path)
		wantErrno(t, "Readlink "+tt.path, errno, tt.want)
		if target != tt.target {
			t.Errorf("Readlink(%q) = %q, want %q", tt.path, target, tt.target)
		}
	}
}

func TestMutations(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	steps := []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"mkdir", func() experimentalsys.Errno { return d.Mkdir("newdir", 0o755) }, 0},
		{"mkdir existing", func() experimentalsys.Errno { return d.Mkdir("newdir", 0o755) }, experimentalsys.EEXIST},
		{"mkdir under file", func() experimentalsys.Errno { return d.Mkdir("a.txt/x", 0o755) }, experimentalsys.ENOTDIR},
		{"mkdir out", func() experimentalsys.Errno { return d.Mkdir("../outside/x", 0o755) }, experimentalsys.EPERM},
		{"mkdir through symlink out", func() experimentalsys.Errno { return d.Mkdir("dir_out/x", 0o755) }, experimentalsys.EPERM},
		{"symlink out (creation allowed)", func() experimentalsys.Errno { return d.Symlink("../outside/secret", "evil") }, 0},
		{"symlink absolute target", func() experimentalsys.Errno { return d.Symlink("/etc/passwd", "evil2") }, experimentalsys.EPERM},
		{"symlink existing", func() experimentalsys.Errno { return d.Symlink("a.txt", "evil") }, experimentalsys.EEXIST},
		{"symlink trailing slash missing", func() experimentalsys.Errno { return d.Symlink("a.txt", "target/") }, experimentalsys.ENOENT},
		{"symlink trailing slash on file", func() experimentalsys.Errno { return d.Symlink("x", "a.txt/") }, experimentalsys.ENOTDIR},
		{"symlink in symlinked dir out", func() experimentalsys.Errno { return d.Symlink("x", "dir_out/x") }, experimentalsys.EPERM},
		{"link", func() experimentalsys.Errno { return d.Link("a.txt", "hard") }, 0},
		{"link source out", func() experimentalsys.Errno { return d.Link("../outside/secret", "h") }, experimentalsys.EPERM},
		{"link source through symlink out", func() experimentalsys.Errno { return d.Link("dir_out/secret", "h") }, experimentalsys.EPERM},
		{"link target out", func() experimentalsys.Errno { return d.Link("a.txt", "dir_out/h") }, experimentalsys.EPERM},
		{"link directory", func() experimentalsys.Errno { return d.Link("sub", "h") }, experimentalsys.EPERM},
		{"rename", func() experimentalsys.Errno { return d.Rename("hard", "hard2") }, 0},
		{"rename onto itself", func() experimentalsys.Errno { return d.Rename("hard2", "hard2") }, 0},
		{"rename out", func() experimentalsys.Errno { return d.Rename("hard2", "../outside/x") }, experimentalsys.EPERM},
		{"rename through symlink out", func() experimentalsys.Errno { return d.Rename("hard2", "dir_out/x") }, experimentalsys.EPERM},
		{"rename from outside", func() experimentalsys.Errno { return d.Rename("dir_out/secret", "stolen") }, experimentalsys.EPERM},
		{"rename dir over empty dir", func() experimentalsys.Errno { return d.Rename("newdir", "empty") }, 0},
		{"rename file over dir", func() experimentalsys.Errno { return d.Rename("hard2", "empty") }, experimentalsys.EISDIR},
		{"rename dir over file", func() experimentalsys.Errno { return d.Rename("empty", "hard2") }, experimentalsys.ENOTDIR},
		{"rename file trailing slash", func() experimentalsys.Errno { return d.Rename("hard2/", "x") }, experimentalsys.ENOTDIR},
		{"rename root", func() experimentalsys.Errno { return d.Rename(".", "x") }, experimentalsys.EINVAL},
		{"unlink dir", func() experimentalsys.Errno { return d.Unlink("sub") }, experimentalsys.EISDIR},
		{"unlink missing", func() experimentalsys.Errno { return d.Unlink("missing") }, experimentalsys.ENOENT},
		{"unlink through symlink out", func() experimentalsys.Errno { return d.Unlink("dir_out/secret") }, experimentalsys.EPERM},
		{"unlink symlink out removes the link only", func() experimentalsys.Errno { return d.Unlink("rel_out") }, 0},
		{"unlink out", func() experimentalsys.Errno { return d.Unlink("../outside/secret") }, experimentalsys.EPERM},
		{"rmdir file", func() experimentalsys.Errno { return d.Rmdir("a.txt") }, experimentalsys.ENOTDIR},
		{"rmdir non-empty", func() experimentalsys.Errno { return d.Rmdir("sub") }, experimentalsys.ENOTEMPTY},
		{"rmdir dir symlink", func() experimentalsys.Errno { return d.Rmdir("dir_out") }, experimentalsys.ENOTDIR},
		{"rmdir through symlink out", func() experimentalsys.Errno { return d.Rmdir("dir_out/dir") }, experimentalsys.EPERM},
		{"rmdir", func() experimentalsys.Errno { return d.Rmdir("empty") }, 0},
		{"chmod", func() experimentalsys.Errno {
			return d.Chmod("a.txt", 0o755|iofs.ModeSetuid|iofs.ModeSetgid|iofs.ModeSticky)
		}, 0},
		{"chmod through symlink out", func() experimentalsys.Errno { return d.Chmod("abs_out", 0o777) }, experimentalsys.EPERM},
		{"utimens through symlink out", func() experimentalsys.Errno { return d.Utimens("abs_out", 0, 0) }, experimentalsys.EPERM},
		{"utimens out", func() experimentalsys.Errno { return d.Utimens("../outside/secret", 0, 0) }, experimentalsys.EPERM},
	}
	for _, st := range steps {
		wantErrno(t, st.name, st.op(), st.want)
	}
	// The guest-created symlink pointing out cannot be followed.
	for _, flag := range []experimentalsys.Oflag{rdonly, wronly | trunc, rdwr | creat} {
		_, errno := d.OpenFile("evil", flag, 0o600)
		wantErrno(t, "open evil", errno, experimentalsys.EPERM)
	}
	if target, _ := d.Readlink("evil"); target != "../outside/secret" {
		t.Errorf("Readlink(evil) = %q", target)
	}
	if fi, err := os.Stat(filepath.Join(s.mount, "a.txt")); err != nil || fi.Mode() != 0o755 {
		t.Errorf("chmod: mode %v (setuid must be dropped), %v", fi.Mode(), err)
	}
	s.checkOutside(t)
}

func TestUtimens(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, false, nil)
	atim := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC).UnixNano()
	mtim := time.Date(2002, 2, 3, 4, 5, 6, 8000, time.UTC).UnixNano()
	if errno := d.Utimens("in_link", atim, mtim); errno != 0 { // follows the link
		t.Fatal(errno)
	}
	st, _ := d.Stat("a.txt")
	if st.Atim != atim || st.Mtim != mtim {
		t.Fatalf("times %d %d, want %d %d", st.Atim, st.Mtim, atim, mtim)
	}
	if errno := d.Utimens("a.txt", experimentalsys.UTIME_OMIT, mtim+1); errno != 0 {
		t.Fatal(errno)
	}
	st, _ = d.Stat("a.txt")
	if st.Atim != atim || st.Mtim != mtim+1 {
		t.Fatalf("after omitting atim: %d %d", st.Atim, st.Mtim)
	}
	if errno := d.Utimens("a.txt", atim+1, experimentalsys.UTIME_OMIT); errno != 0 {
		t.Fatal(errno)
	}
	st, _ = d.Stat("a.txt")
	if st.Atim != atim+1 || st.Mtim != mtim+1 {
		t.Fatalf("after omitting mtim: %d %d", st.Atim, st.Mtim)
	}
	wantErrno(t, "utimens missing", d.Utimens("missing", atim, mtim), experimentalsys.ENOENT)
}

func TestReadOnly(t *testing.T) {
	s := newSandbox(t)
	d := s.dir(t, true, nil)
	const erofs = experimentalsys.EROFS
	for _, tt := range []struct {
		path string
		flag experimentalsys.Oflag
		want experimentalsys.Errno
	}{
		{"a.txt", rdwr, erofs},
		{"a.txt", wronly, erofs},
		{"a.txt", rdonly | trunc, erofs},
		{"a.txt", rdonly | appnd, erofs},
		{"a.txt", rdonly | creat, erofs},
		{"new", wronly | creat, erofs},
		{"new", wronly | creat | excl, erofs},
		{"sub", rdwr, experimentalsys.EISDIR},
		{".", odir | rdwr, experimentalsys.EISDIR},
		{"rel_out", wronly, erofs},
		// Host symlinks inside a read-only mount still cannot be followed out.
		{"rel_out", rdonly, experimentalsys.EPERM},
		{"abs_out", rdonly, experimentalsys.EPERM},
		{"dir_out/secret", rdonly, experimentalsys.EPERM},
		{"abs_dir/secret", rdonly, experimentalsys.EPERM},
	} {
		_, errno := d.OpenFile(tt.path, tt.flag, 0o600)
		wantErrno(t, "open "+tt.path, errno, tt.want)
	}
	for name, errno := range map[string]experimentalsys.Errno{
		"mkdir":    d.Mkdir("x", 0o755),
		"rmdir":    d.Rmdir("empty"),
		"unlink":   d.Unlink("a.txt"),
		"rename":   d.Rename("a.txt", "b.txt"),
		"link":     d.Link("a.txt", "h"),
		"symlink":  d.Symlink("a.txt", "l"),
		"chmod":    d.Chmod("a.txt", 0o777),
		"utimens":  d.Utimens("a.txt", 0, 0),
		"dotdot":   d.Unlink("../outside/secret"),
		"link out": d.Link("../outside/secret", "h"),
	} {
		wantErrno(t, name, errno, erofs)
	}
	// Reading works; writing through the read-only descriptor does not.
	f, errno := d.OpenFile("a.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer f.Close()
	if got := readAll(t, f); got != "hello" {
		t.Fatalf("read %q", got)
	}
	_, errno = f.Write([]byte("x"))
	wantErrno(t, "write", errno, experimentalsys.EBADF)
	_, errno = f.Pwrite([]byte("x"), 0)
	wantErrno(t, "pwrite", errno, experimentalsys.EBADF)
	wantErrno(t, "truncate", f.Truncate(0), experimentalsys.EBADF)
	wantErrno(t, "utimens", f.Utimens(0, 0), erofs)
	root, errno := d.OpenFile(".", odir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer root.Close()
	wantErrno(t, "utimens dir", root.Utimens(0, 0), erofs)
	if b, _ := os.ReadFile(filepath.Join(s.mount, "a.txt")); string(b) != "hello" {
		t.Fatalf("read-only file changed: %q", b)
	}
	s.checkOutside(t)
}

func TestQuota(t *testing.T) {
	s := newSandbox(t)
	q := NewQuota(2)
	d := s.dir(t, false, q)
	f1, errno := d.OpenFile("a.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	f2, errno := d.OpenFile("sub", odir, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := d.OpenFile("a.txt", rdonly, 0); errno != EMFILE {
		t.Fatalf("third open: %v, want EMFILE", errno)
	}
	// A refused create leaves nothing behind.
	if _, errno := d.OpenFile("new", wronly|creat, 0o600); errno != EMFILE {
		t.Fatalf("create over quota: %v", errno)
	}
	if _, err := os.Lstat(filepath.Join(s.mount, "new")); !os.IsNotExist(err) {
		t.Fatalf("refused create made a file: %v", err)
	}
	if q.Open() != 2 || q.Denied() != 2 {
		t.Fatalf("open=%d denied=%d", q.Open(), q.Denied())
	}
	// wazero's lazy open of a preopen is counted but never refused.
	pre, errno := d.OpenFile(".", experimentalsys.O_RDONLY, 0)
	if errno != 0 || q.Open() != 3 {
		t.Fatalf("preopen open: %v, open=%d", errno, q.Open())
	}
	if _, errno := d.OpenFile(".", experimentalsys.O_RDONLY, 0o600); errno != EMFILE { // as WASI path_open sends it
		t.Fatalf("guest open of . over quota: %v", errno)
	}
	pre.Close()
	// Failed opens do not leak slots.
	f2.Close()
	if _, errno := d.OpenFile("missing", rdonly, 0); errno != experimentalsys.ENOENT {
		t.Fatal(errno)
	}
	if q.Open() != 1 {
		t.Fatalf("open=%d after a failed open", q.Open())
	}
	// Closing twice releases once.
	f1.Close()
	f1.Close()
	if q.Open() != 0 {
		t.Fatalf("open=%d after double close", q.Open())
	}
	f3, errno := d.OpenFile("a.txt", rdonly, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	f3.Close()
	if q.Denied() != 3 {
		t.Fatalf("denied=%d", q.Denied())
	}
}

func TestQuotaUnlimitedAndConcurrent(t *testing.T) {
	var nilQuota *Quota
	if !nilQuota.acquire(false) || nilQuota.Open() != 0 || nilQuota.Denied() != 0 {
		t.Fatal("nil quota must be unlimited")
	}
	nilQuota.release()
	q := NewQuota(0)
	for range 1000 {
		if !q.acquire(false) {
			t.Fatal("unlimited quota refused")
		}
	}
	q = NewQuota(10)
	done := make(chan bool)
	for range 8 {
		go func() {
			for range 1000 {
				if q.acquire(false) {
					if n := q.Open(); n > 10 {
						t.Errorf("open %d > max", n)
					}
					q.release()
				}
			}
			done <- true
		}()
	}
	for range 8 {
		<-done
	}
	if q.Open() != 0 {
		t.Fatalf("open=%d", q.Open())
	}
}
