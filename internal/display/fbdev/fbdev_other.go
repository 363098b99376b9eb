//go:build !linux

package fbdev

import (
	"fmt"
	"os"
	"runtime"
)

var unsupported = fmt.Errorf("fbdev: not supported on %s", runtime.GOOS)

// Open fails: the Linux framebuffer exists only on Linux.
func Open(path string) (*Display, error) { return nil, unsupported }

func mmap(*os.File, int) ([]byte, error) { return nil, unsupported }

func munmap([]byte) error { return nil }
