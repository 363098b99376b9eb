//go:build !linux

package devices

import "syscall"

// confine applies what this OS offers: nothing beyond the rlimits that
// setrlimit gives (see docs/DRIVERS.md).
func confine(s launchSpec) error {
	for _, l := range []struct {
		res int
		v   uint64
	}{{syscall.RLIMIT_DATA, s.Memory}, {syscall.RLIMIT_NOFILE, s.Files}} {
		if l.v == 0 {
			continue
		}
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return err
		}
	}
	return nil
}

func execve(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }

func sandbox() (string, bool) { return "rlimits (no Landlock on this OS)", false }
