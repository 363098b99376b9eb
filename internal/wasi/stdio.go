package wasi

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// stream is a standard stream: the host's reader or writer, read and
// written without the execution slot held (a read may block). A stream
// without a host end reads end-of-file and discards what is written, as a
// process without the stdio capability sees it.
type stream struct {
	experimentalsys.UnimplementedFile
	s *State
	r io.Reader
	w io.Writer
}

// Stdin returns descriptor 0 reading r (nil: end-of-file).
func Stdin(s *State, r io.Reader) *Descriptor {
	return &Descriptor{File: &stream{s: s, r: r}, Filetype: streamType(r), Base: StdinRights}
}

// Stdout returns descriptor 1 or 2 writing w (nil: discarded).
func Stdout(s *State, w io.Writer) *Descriptor {
	return &Descriptor{File: &stream{s: s, w: w}, Filetype: streamType(w), Base: StdoutRights}
}

// streamType is the file type a stream reports: a host file's own, else a
// character device (a terminal-like stream the host owns).
func streamType(v any) uint8 {
	if f, ok := v.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			return filetypeOf(st.Mode())
		}
	}
	return FiletypeCharacterDevice
}

func (f *stream) Read(buf []byte) (n int, errno experimentalsys.Errno) {
	if f.r == nil {
		if f.w != nil {
			return 0, experimentalsys.EBADF
		}
		return 0, 0
	}
	if len(buf) == 0 {
		return 0, 0
	}
	var err error
	f.s.blocking(func() { n, err = f.r.Read(buf) })
	if err != nil && !errors.Is(err, io.EOF) && n == 0 {
		return 0, experimentalsys.EIO
	}
	return n, 0
}

func (f *stream) Write(buf []byte) (n int, errno experimentalsys.Errno) {
	if f.w == nil {
		if f.r != nil {
			return 0, experimentalsys.EBADF
		}
		return len(buf), 0
	}
	var err error
	f.s.blocking(func() { n, err = f.w.Write(buf) })
	if err != nil {
		return n, experimentalsys.EIO
	}
	return n, 0
}

func (f *stream) Pread([]byte, int64) (int, experimentalsys.Errno) { return 0, experimentalsys.ENOTSUP }

func (f *stream) Pwrite([]byte, int64) (int, experimentalsys.Errno) {
	return 0, experimentalsys.ENOTSUP
}

func (f *stream) Stat() (sys.Stat_t, experimentalsys.Errno) {
	var v any = f.r
	if f.w != nil {
		v = f.w
	}
	if file, ok := v.(*os.File); ok {
		if st, err := file.Stat(); err == nil {
			return sys.NewStat_t(st), 0
		}
	}
	return sys.Stat_t{Mode: iofs.ModeDevice | iofs.ModeCharDevice | 0o660, Nlink: 1}, 0
}

func (f *stream) Sync() experimentalsys.Errno { return 0 }

func (f *stream) Datasync() experimentalsys.Errno { return 0 }

func (f *stream) Truncate(int64) experimentalsys.Errno { return experimentalsys.EINVAL }

func (f *stream) Utimens(int64, int64) experimentalsys.Errno { return experimentalsys.EINVAL }

// Close forgets the stream; the host's reader or writer stays open.
func (f *stream) Close() experimentalsys.Errno { return 0 }

// filetypeOf maps a file mode to a WASI file type.
func filetypeOf(m iofs.FileMode) uint8 {
	switch {
	case m.IsRegular():
		return FiletypeRegularFile
	case m.IsDir():
		return FiletypeDirectory
	case m&iofs.ModeSymlink != 0:
		return FiletypeSymbolicLink
	case m&iofs.ModeDevice != 0 && m&iofs.ModeCharDevice != 0:
		return FiletypeCharacterDevice
	case m&iofs.ModeDevice != 0:
		return FiletypeBlockDevice
	case m&iofs.ModeSocket != 0:
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}
