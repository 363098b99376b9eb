//go:build linux

package devices

import (
	"fmt"
	"os"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// confine applies s's rlimits, no_new_privs and Landlock to the calling
// process; execve keeps all three.
func confine(s launchSpec) error {
	for _, l := range []struct {
		res int
		v   uint64
	}{{unix.RLIMIT_DATA, s.Memory}, {unix.RLIMIT_NOFILE, s.Files}, {unix.RLIMIT_CORE, 0}} {
		if l.v == 0 && l.res != unix.RLIMIT_CORE {
			continue
		}
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return fmt.Errorf("setrlimit %d: %w", l.res, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if !s.Landlock {
		return nil
	}
	var roDirs, roFiles, rwDirs, rwFiles []string
	split := func(paths []string, dirs, files *[]string) {
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				*dirs = append(*dirs, p)
			} else if err == nil {
				*files = append(*files, p)
			}
		}
	}
	split(s.RO, &roDirs, &roFiles)
	split(s.RW, &rwDirs, &rwFiles)
	rules := []landlock.Rule{landlock.RODirs(roDirs...), landlock.ROFiles(roFiles...),
		landlock.RWDirs(rwDirs...).WithIoctlDev(), landlock.RWFiles(rwFiles...).WithIoctlDev()}
	if err := landlock.V5.BestEffort().RestrictPaths(rules...); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return nil
}

func execve(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }

// sandbox says what confines an out-of-process driver on this machine.
func sandbox() (string, bool) {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil || v < 1 {
		return "rlimits, no_new_privs (Landlock not available in this kernel)", false
	}
	return fmt.Sprintf("rlimits, no_new_privs, Landlock ABI v%d", v), true
}
