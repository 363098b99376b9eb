// Command orbital is the Orbital WebAssembly microkernel's command line.
//
// main only calls run, so every command is testable in-process with its own
// arguments and output streams.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/orbitalfoundation/orbital/internal/node/devices"
)

func main() {
	// An out-of-process driver's launcher is this binary re-executed: it
	// confines itself and becomes the driver program.
	devices.MaybeLaunch()
	// Compiled wasm cannot be preempted by the Go scheduler. Give the kernel
	// one more P than there are cores and let guests use the rest, so a
	// spinning guest never starves the kernel's own goroutines (deadline
	// timers, signal handling). See docs/RATIONALE.md.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.NumCPU() + 1)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes of the orbital command itself; a guest's own exit code is
// passed through unchanged by `orbital run`.
const (
	exitOK         = 0
	exitFailure    = 1   // the command failed (I/O, internal error)
	exitUsage      = 64  // bad command line (EX_USAGE)
	exitBadInput   = 65  // malformed wasm or manifest (EX_DATAERR)
	exitNoPerm     = 77  // a requested capability was not granted (EX_NOPERM)
	exitDeadline   = 124 // the guest ran past its deadline (like timeout(1))
	exitCrashed    = 134 // the guest trapped or hit a limit
	exitKilled     = 137 // the guest was killed (signal, shutdown)
	exitInterrupts = 130 // interrupted by SIGINT
	exitTerminated = 143 // stopped by SIGTERM
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run a wasm module to completion, confined to what is granted", cmdRun},
		{"up", "start a long-running node: supervised processes on the message bus", cmdUp},
		{"ps", "list the running node's processes (--all: the whole cluster's)", cmdPs},
		{"nodes", "list the cluster's nodes: health and what runs where", cmdNodes},
		{"windows", "list or move, raise, focus, hide the windows on the node's screen", cmdWindows},
		{"screenshot", "save a PNG of the node's screen or of one window", cmdScreenshot},
		{"drivers", "list the device drivers compiled into this binary", cmdDrivers},
		{"start", "start a stopped or idle process of the running node", cmdProcessOp("start", "Starts a process stopped with orbital stop, or one waiting for its trigger (as if it fired).")},
		{"stop", "stop a process of the running node (no restart)", cmdProcessOp("stop", "Stops a process gracefully; its supervisor does not restart it.")},
		{"restart", "restart a process of the running node", cmdProcessOp("restart", "Restarts a process (not counted against the restart budget).")},
		{"kill", "kill a process of the running node (its supervisor may restart it)", cmdProcessOp("kill", "Kills a process at once; its restart policy decides what happens next.")},
		{"logs", "print a process's log lines (its output, its log calls, what the node did to it)", cmdLogs},
		{"pub", "publish a message on the running node's bus", cmdPub},
		{"sub", "print messages from the running node's bus", cmdSub},
		{"request", "send a request on the running node's bus and print the reply", cmdRequest},
		{"send", "send a message directly to a process of the running node", cmdSend},
		{"admin", "the browser admin panel: print its login link", cmdAdmin},
		{"call", "call a library function on the running node and print the result", cmdCall},
		{"inspect", "show a module's imports, exports, memory, sections and manifest", cmdInspect},
		{"version", "print the orbital and wazero versions", cmdVersion},
		{"pack", "make a package: a wasm module with its manifest embedded", cmdPack},
		{"keygen", "make a publisher key pair for signing packages", cmdKeygen},
		{"sign", "sign a package with a publisher key", cmdSign},
		{"verify", "check a package's signatures against a trust policy", cmdVerify},
		{"install", "install a package into the device's registry (and run it on a running node)", cmdInstall},
		{"push", "publish a package to an OCI registry", cmdPush},
		{"list", "list the installed modules", cmdList},
		{"info", "show an installed module: manifest, exports, triggers, dependencies", cmdInfo},
		{"query", "ask the registry: who exports, what fires, what depends, who may", cmdQuery},
		{"remove", "uninstall a module", cmdRemove},
		{"rollback", "make an older installed version active (and restart on it)", cmdRollback},
		{"help", "show help for a command", cmdHelp},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help":
		usage(stdout)
		return exitOK
	case "--version", "-version":
		return cmdVersion(nil, stdin, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "orbital: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "orbital — a WebAssembly microkernel: every app, library and driver is a sandboxed wasm module.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: orbital COMMAND [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'orbital help COMMAND' or 'orbital COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "Data directory: $ORBITAL_HOME, default ~/.orbital (compile cache; node.json of a running node).")
}

func cmdHelp(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] && c.name != "help" {
			return c.run([]string{"--help"}, stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "orbital help: unknown command %q (commands: %s)\n", args[0], commandNames())
	return exitUsage
}

func commandNames() string {
	var n []string
	for _, c := range commands() {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}
