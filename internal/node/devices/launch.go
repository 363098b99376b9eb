package devices

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// LaunchEnv carries a launch spec to the program that re-executes itself
// as an out-of-process driver's launcher.
const LaunchEnv = "ORBITAL_DRIVER_LAUNCH"

// launchSpec is what the launcher applies before it executes the driver.
type launchSpec struct {
	Exec string   `json:"exec"`
	Args []string `json:"args"`
	// Memory is RLIMIT_DATA, bytes: on Linux (4.7 and later) the private
	// writable memory a process maps — what it uses, not the address
	// space it reserves. RLIMIT_AS counted reservations too, and Go's
	// runtime reserves hundreds of MiB it never touches: a Go driver
	// under 1 GiB of address space died at start now and then.
	Memory uint64 `json:"memory"`
	Files  uint64 `json:"files"` // RLIMIT_NOFILE
	// Landlock: the driver may read and execute only under RO, and read
	// and write only RW (its granted resources).
	Landlock bool     `json:"landlock"`
	RO       []string `json:"ro"`
	RW       []string `json:"rw"`
}

// systemDirs are readable and executable by every out-of-process driver:
// the dynamic loader, libraries and programs such as ffmpeg, and the
// system's configuration (time zones, name service).
var (
	systemDirs  = []string{"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc/self", "/sys/devices/system/cpu"}
	systemFiles = []string{"/dev/null", "/dev/urandom", "/dev/zero"}
)

// MaybeLaunch turns the process into an out-of-process driver's launcher
// when LaunchEnv is set: it applies the resource limits and the sandbox,
// then replaces itself with the driver program. Programs that start
// drivers (cmd/orbital, tests) call it first thing in main or TestMain;
// without LaunchEnv it returns at once.
func MaybeLaunch() {
	raw, ok := os.LookupEnv(LaunchEnv)
	if !ok {
		return
	}
	runtime.LockOSThread()
	var s launchSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fail("bad launch spec: %v", err)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, LaunchEnv+"=") {
			env = append(env, e)
		}
	}
	if err := confine(s); err != nil {
		fail("%v", err)
	}
	if err := execve(s.Exec, append([]string{s.Exec}, s.Args...), env); err != nil {
		fail("exec %s: %v", s.Exec, err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "orbital driver launcher: "+format+"\n", args...)
	os.Exit(126)
}
