package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/control"
)

const adminUsage = `Usage: orbital admin url [--home DIR]

The running node serves a browser admin panel on its control address
under /admin/ (loopback by default). "orbital admin url" prints a login
link carrying the node's token (read from $ORBITAL_HOME/node.json): open
it in a browser on this machine; the node swaps the token for a session
cookie and drops it from the address bar. Treat the link like a password.

The panel shows the node's health, the live process table with each
process's log, the installed modules (capabilities requested and granted,
signatures), the bus and the libraries; its URL bar installs a module from
an https:// URL or an oci:// reference after a permission prompt.

Flags:
`

func cmdAdmin(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	home, pos, code := homeCommand("admin", adminUsage, args, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 || pos[0] != "url" {
		fmt.Fprint(stderr, adminUsage)
		return exitUsage
	}
	info, err := readNodeInfo(home)
	if err != nil {
		fmt.Fprintf(stderr, "orbital admin: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, admin.LoginURL(info.Addr, info.Token))
	return exitOK
}

// readNodeInfo reads the running node's address and token from node.json.
func readNodeInfo(home string) (api.ControlInfo, error) {
	var info api.ControlInfo
	data, err := os.ReadFile(control.InfoPath(home))
	if errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("no node is running for %s (start one with `orbital up`)", home)
	}
	if err != nil {
		return info, fmt.Errorf("read node info: %w", err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("%s: %w", control.InfoPath(home), err)
	}
	if info.Addr == "" || info.Token == "" {
		return info, fmt.Errorf("%s: no address or token", control.InfoPath(home))
	}
	return info, nil
}
