//go:build !unix

package fs

import (
	"errors"
	"runtime"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

var errUnsupported = errors.New("fs: confined guest file systems are not supported on " + runtime.GOOS)

// Dir is only implemented on unix; elsewhere it returns an error.
func Dir(hostDir string, readOnly bool, q *Quota) (experimentalsys.FS, error) {
	return nil, errUnsupported
}

// Files is only implemented on unix; elsewhere it returns an error.
func Files(handles []Handle, q *Quota) (experimentalsys.FS, error) {
	return nil, errUnsupported
}
