package fs

import (
	"errors"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// EMFILE is returned when an open is refused by the process's Quota (or the
// host itself runs out of descriptors).
//
// wazero's Errno set has no EMFILE and its WASI layer maps every Errno it does
// not know to EIO, so the guest observes EIO; the host tells the cause from
// Quota.Denied. The value is far above wazero's own constants (small iota
// values) so it cannot collide with one added later.
const EMFILE experimentalsys.Errno = 0x4000 + 24

// errPathEscapes is os.Root's (unexported) sentinel for a resolution that
// would leave the root. learnEscapeErr records it from the first root.
var (
	errPathEscapes error
	escapeOnce     sync.Once
)

// learnEscapeErr captures os.Root's escape sentinel: an absolute name is
// rejected with it before any file system access.
func learnEscapeErr(r *os.Root) {
	escapeOnce.Do(func() {
		_, err := r.Lstat("/")
		var pe *os.PathError
		if errors.As(err, &pe) {
			errPathEscapes = pe.Err
		}
	})
}

// toErrno maps an error from os, os.Root or a raw syscall to the Errno a guest
// should see. The mapping follows POSIX openat with RESOLVE_BENEATH, except
// that an escape is EPERM rather than Linux's EXDEV (absent from wazero's
// Errno set): EPERM is also what wazero returns for a lexical ".." escape and
// what wasmtime returns for any escape.
//   - a path (or symlink target) leaving the root, or an absolute symlink: EPERM
//   - too many symlinks: ELOOP (kernel or os.Root's own limit)
//   - host descriptor exhaustion (EMFILE/ENFILE): EMFILE
//   - everything else: wazero's own mapping (ENOENT, ENOTDIR, EEXIST, ...;
//     unknown errors become EIO)
func toErrno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	if errPathEscapes != nil && errors.Is(err, errPathEscapes) {
		return experimentalsys.EPERM
	}
	var errno experimentalsys.Errno
	if errors.As(err, &errno) {
		return errno
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		switch se {
		case syscall.EMFILE, syscall.ENFILE:
			return EMFILE
		}
		return experimentalsys.UnwrapOSError(se)
	}
	return experimentalsys.UnwrapOSError(err)
}

// cleanPath turns a path received from wazero into a name for os.Root.
//
// wazero hands the FS paths relative to the mount: "." for the mount itself,
// cleaned relative paths that may keep one trailing "/", and, for paths
// relative to a directory descriptor opened at the mount root, a leading "/"
// (it joins the directory's name "" with "/" and the path). A leading "/"
// therefore means the mount root, never the host root. The result is cleaned
// lexically (as wazero already does) and keeps a trailing "/" so that os.Root
// applies "must be a directory" semantics. Anything climbing above the mount
// is refused with EPERM before touching the file system.
func cleanPath(p string) (string, experimentalsys.Errno) {
	trailing := strings.HasSuffix(p, "/")
	c := path.Clean(strings.TrimLeft(p, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", experimentalsys.EPERM
	}
	if trailing && c != "." {
		c += "/"
	}
	return c, 0
}

// splitPath splits a cleaned name into its parent directory and last
// component; the last component keeps any trailing "/".
func splitPath(name string) (dir, base string) {
	trimmed := strings.TrimSuffix(name, "/")
	i := strings.LastIndexByte(trimmed, '/')
	if i < 0 {
		return ".", name
	}
	return name[:i], name[i+1:]
}
