//go:build unix

package fs

import (
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"syscall"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

func TestCleanPath(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		errno    experimentalsys.Errno
	}{
		{in: ".", want: "."},
		{in: "", want: "."},
		{in: "/", want: "."},
		{in: "./", want: "."},
		{in: "/.", want: "."},
		{in: "a", want: "a"},
		{in: "/a", want: "a"}, // wazero's dir-fd join: "" + "/" + "a"
		{in: "//a//b/", want: "a/b/"},
		{in: "a/./b", want: "a/b"},
		{in: "a/../b", want: "b"},
		{in: "a/", want: "a/"},
		{in: "..", errno: experimentalsys.EPERM},
		{in: "../x", errno: experimentalsys.EPERM},
		{in: "/..", errno: experimentalsys.EPERM},
		{in: "a/../../x", errno: experimentalsys.EPERM},
		{in: "/../../etc/passwd", errno: experimentalsys.EPERM},
	} {
		got, errno := cleanPath(tt.in)
		if got != tt.want || errno != tt.errno {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, %v", tt.in, got, errno, tt.want, tt.errno)
		}
	}
}

func TestSplitPath(t *testing.T) {
	for _, tt := range []struct{ in, dir, base string }{
		{"a", ".", "a"},
		{"a/", ".", "a/"},
		{"a/b", "a", "b"},
		{"a/b/c/", "a/b", "c/"},
	} {
		if dir, base := splitPath(tt.in); dir != tt.dir || base != tt.base {
			t.Errorf("splitPath(%q) = %q, %q", tt.in, dir, base)
		}
	}
}

func TestToErrno(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	must(t, err)
	defer root.Close()
	learnEscapeErr(root)
	_, escape := root.Open("../x")
	if escape == nil {
		t.Fatal("os.Root allowed ..")
	}
	must(t, root.Symlink("../x", "out"))
	_, symlinkEscape := root.Open("out")
	must(t, root.Symlink("/etc/passwd", "abs"))
	_, absEscape := root.Open("abs")
	must(t, root.Symlink("loop", "loop"))
	_, loop := root.Open("loop")

	for _, tt := range []struct {
		name string
		err  error
		want experimentalsys.Errno
	}{
		{"nil", nil, 0},
		{"escape by ..", escape, experimentalsys.EPERM},
		{"escape by relative symlink", symlinkEscape, experimentalsys.EPERM},
		{"absolute symlink", absEscape, experimentalsys.EPERM},
		{"symlink loop", loop, experimentalsys.ELOOP},
		{"path error", &os.PathError{Op: "openat", Path: "x", Err: syscall.ENOENT}, experimentalsys.ENOENT},
		{"link error", &os.LinkError{Op: "renameat", Old: "a", New: "b", Err: syscall.ENOTEMPTY}, experimentalsys.ENOTEMPTY},
		{"wrapped errno", fmt.Errorf("ctx: %w", syscall.EISDIR), experimentalsys.EISDIR},
		{"host EMFILE", syscall.EMFILE, EMFILE},
		{"host ENFILE", &os.PathError{Err: syscall.ENFILE}, EMFILE},
		{"unknown errno", syscall.EXDEV, experimentalsys.EIO},
		{"Errno passes through", experimentalsys.EROFS, experimentalsys.EROFS},
		{"closed file", os.ErrClosed, experimentalsys.EBADF},
		{"not exist", iofs.ErrNotExist, experimentalsys.ENOENT},
		{"other error", io.ErrShortWrite, experimentalsys.EIO},
	} {
		if got := toErrno(tt.err); got != tt.want {
			t.Errorf("%s: toErrno(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
