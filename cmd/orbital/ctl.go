package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
)

// homeCommand parses the flags of a command that works on a data
// directory (--home plus extra) and returns the directory and the
// positional arguments; code ≥ 0 means stop with that exit code.
func homeCommand(name, usage string, args []string, stdout, stderr io.Writer, extra func(*flag.FlagSet)) (home string, pos []string, code int) {
	fs := newFlags(name, usage, stderr)
	h := fs.String("home", "", "data directory of the node (default $ORBITAL_HOME or ~/.orbital)")
	if extra != nil {
		extra(fs.FlagSet)
	}
	if pos, code = fs.parse(args, stdout); code >= 0 {
		return "", nil, code
	}
	if *h == "" {
		*h = orbital.DefaultHome()
	}
	return *h, pos, -1
}

// flags is a command's flag set with its usage text: newFlags + parse
// replace the set-up every command would otherwise repeat.
type flags struct {
	*flag.FlagSet
	usage string
}

// newFlags returns the flag set of `orbital NAME`; errors go to stderr.
func newFlags(name, usage string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("orbital "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{FlagSet: fs, usage: usage}
	fs.Usage = func() { fmt.Fprint(fs.Output(), f.usage); fs.PrintDefaults() }
	return f
}

// parse parses args (flags and positionals interleaved). With -h it prints
// the usage to stdout and returns exitOK; on a bad flag exitUsage; else the
// positionals and -1.
func (f *flags) parse(args []string, stdout io.Writer) ([]string, int) {
	if wantsHelp(args) {
		f.SetOutput(stdout)
		f.Usage()
		return nil, exitOK
	}
	pos, err := parseInterleaved(f.FlagSet, args)
	if err != nil {
		return nil, exitUsage
	}
	return pos, -1
}

// ctlCommand parses the common flags of commands that talk to a running
// node and returns a client.
func ctlCommand(name, usage string, args []string, stdout, stderr io.Writer, extra func(*flag.FlagSet)) (*control.Client, []string, int) {
	home, pos, code := homeCommand(name, usage, args, stdout, stderr, extra)
	if code >= 0 {
		return nil, nil, code
	}
	c, err := control.Dial(home)
	if err != nil {
		fmt.Fprintf(stderr, "orbital %s: %v\n", name, err)
		return nil, nil, exitFailure
	}
	return c, pos, -1
}

func cmdPs(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var asJSON, all bool
	c, pos, code := ctlCommand("ps", "Usage: orbital ps [--json] [--all]\n\nLists the processes of the running node (--all: of every node of its cluster,\nwith a NODE column).\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print JSON")
			fs.BoolVar(&all, "all", false, "every node of the cluster")
		})
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "orbital ps: takes no arguments")
		return exitUsage
	}
	var ps []api.ProcessInfo
	var missing []string
	var err error
	if all {
		ps, missing, err = c.ProcessesAll(context.Background())
	} else {
		ps, err = c.Processes(context.Background())
	}
	if err != nil {
		fmt.Fprintf(stderr, "orbital ps: %v\n", err)
		return exitFailure
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "orbital: no answer from nodes: %s\n", strings.Join(missing, ", "))
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(ps)
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	node := func(p api.ProcessInfo) string {
		if !all {
			return ""
		}
		if p.Node == "" {
			return "-\t"
		}
		return p.Node + "\t"
	}
	if all {
		fmt.Fprint(w, "NODE\t")
	}
	fmt.Fprintln(w, "PID\tNAME\tMODULE\tSTATE\tMEMORY\tCPU\tMAILBOX\tIN\tOUT\tDROPPED\tRESTARTS\tNET\tREASON")
	for _, p := range ps {
		fmt.Fprint(w, node(p))
		if l := p.Library; l != nil {
			kind := "stateless"
			if l.Stateful {
				kind = "stateful"
			}
			note := fmt.Sprintf("library, %s: %d/%d instances (%d busy), %d calls, %d failed", kind, l.Instances, l.Max, l.Busy, l.Calls, l.Failures)
			if p.Reason != "" {
				note += "; " + p.Reason
			}
			fmt.Fprintf(w, "-\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t%d\t-\t%s\n", p.Name, p.Module, p.State, p.Restarts, note)
			continue
		}
		if d := p.Driver; d != nil {
			fmt.Fprintf(w, "-\t%s\t%s\t%s\t-\t-\t-\t%d\t%d\t%d\t%s\n", p.Name, p.Module, p.State, d.Calls, d.Published, d.Dropped,
				fmt.Sprintf("%d\t-\t%s", p.Restarts, driverNote(d, p.Reason)))
			continue
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.ID, p.Name, p.Module, p.State,
			humanBytes(p.MemoryBytes), p.CPUTime.Round(time.Microsecond), p.Mailbox, p.MsgsIn, p.MsgsOut, p.Dropped, p.Restarts, netColumn(p.Net), p.Reason)
	}
	_ = w.Flush()
	return exitOK
}

// driverNote sums up a driver for ps: how it runs, what it did, what
// went wrong.
func driverNote(d *api.DriverStats, reason string) string {
	s := "driver, " + d.Mode
	if d.PID > 0 {
		s += fmt.Sprintf(" pid %d", d.PID)
	}
	s += fmt.Sprintf(": %d published (%s), %d calls", d.Published, humanBytes(d.Bytes), d.Calls)
	for _, c := range []struct {
		n    uint64
		what string
	}{{d.Failures, "failed calls"}, {d.Protocol, "protocol errors"}, {d.Hangs, "hangs"}, {d.Floods, "floods"}} {
		if c.n > 0 {
			s += fmt.Sprintf(", %d %s", c.n, c.what)
		}
	}
	if reason != "" {
		s += "; " + reason
	}
	return s
}

// netColumn sums up a process's sockets for ps: where it listens, bytes
// in/out, dials refused; "-" without a network grant.
func netColumn(n *api.NetStats) string {
	if n == nil {
		return "-"
	}
	s := humanBytes(n.BytesIn) + "/" + humanBytes(n.BytesOut)
	if len(n.Listen) > 0 {
		s = strings.Join(n.Listen, ",") + " " + s
	}
	if n.Denied > 0 {
		s += fmt.Sprintf(" %d denied", n.Denied)
	}
	return s
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// cmdProcessOp makes stop, restart and kill.
func cmdProcessOp(op, summary string) func([]string, io.Reader, io.Writer, io.Writer) int {
	return func(args []string, _ io.Reader, stdout, stderr io.Writer) int {
		var node string
		usage := fmt.Sprintf("Usage: orbital %s NAME\n\n%s\n\nFlags:\n", op, summary)
		var flags func(*flag.FlagSet)
		if op == "start" || op == "stop" {
			usage = fmt.Sprintf("Usage: orbital %s [--node NODE] NAME\n\n%s With --node, on that node of the cluster\n(which must allow it: [cluster] control = true).\n\nFlags:\n", op, summary)
			flags = func(fs *flag.FlagSet) { fs.StringVar(&node, "node", "", "the node of the cluster the process is on") }
		}
		c, pos, code := ctlCommand(op, usage, args, stdout, stderr, flags)
		if code >= 0 {
			return code
		}
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "orbital %s: expected one process NAME\n", op)
			return exitUsage
		}
		var err error
		if node != "" {
			err = c.OpOn(context.Background(), node, pos[0], op)
		} else {
			err = c.Op(context.Background(), pos[0], op)
		}
		if err != nil {
			fmt.Fprintf(stderr, "orbital %s: %v\n", op, err)
			return codeFor(err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", pos[0], map[string]string{"start": "started", "stop": "stopped", "restart": "restarted", "kill": "killed"}[op])
		return exitOK
	}
}

func cmdPub(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c, pos, code := ctlCommand("pub", "Usage: orbital pub SUBJECT [DATA]\n\nPublishes DATA (default empty) on SUBJECT.\n\nFlags:\n", args, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, "orbital pub: expected SUBJECT [DATA]")
		return exitUsage
	}
	if err := c.Publish(context.Background(), pos[0], strings.Join(pos[1:], "")); err != nil {
		fmt.Fprintf(stderr, "orbital pub: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}

func cmdSend(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c, pos, code := ctlCommand("send", "Usage: orbital send PROCESS [DATA]\n\nSends DATA directly to a process's mailbox.\n\nFlags:\n", args, stdout, stderr, nil)
	if code >= 0 {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, "orbital send: expected PROCESS [DATA]")
		return exitUsage
	}
	if err := c.Send(context.Background(), pos[0], strings.Join(pos[1:], "")); err != nil {
		fmt.Fprintf(stderr, "orbital send: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}

func cmdRequest(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var timeout time.Duration
	c, pos, code := ctlCommand("request", "Usage: orbital request SUBJECT [DATA]\n\nSends a request and prints the first reply.\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for a reply")
		})
	if code >= 0 {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, "orbital request: expected SUBJECT [DATA]")
		return exitUsage
	}
	data, err := c.Request(context.Background(), pos[0], strings.Join(pos[1:], ""), int(timeout/time.Millisecond))
	if err != nil {
		fmt.Fprintf(stderr, "orbital request: %v\n", err)
		return codeFor(err)
	}
	fmt.Fprintln(stdout, data)
	return exitOK
}

func cmdSub(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var count int
	c, pos, code := ctlCommand("sub", "Usage: orbital sub PATTERN\n\nPrints messages matching PATTERN ('*' one token, '>' the rest) until interrupted.\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.IntVar(&count, "n", 0, "exit after this many messages (0: run until interrupted)")
		})
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital sub: expected one PATTERN")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	seen := 0
	errDone := fmt.Errorf("done")
	err := c.Subscribe(ctx, pos[0], func(m api.BusMessage) error {
		fmt.Fprintf(stdout, "%s %s\n", m.Subject, m.Data)
		seen++
		if count > 0 && seen >= count {
			return errDone
		}
		return nil
	})
	if err != nil && err != errDone {
		fmt.Fprintf(stderr, "orbital sub: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}

func cmdCall(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var (
		timeout time.Duration
		file    string
	)
	c, pos, code := ctlCommand("call", `Usage: orbital call LIBRARY FUNCTION [ARGS]

Calls a function of a library module on the running node, as the operator,
and prints the result. ARGS are the call's argument bytes as given (for a
function declared with a JSON shape, write JSON: '{"key": "a"}'); with
--file, or ARGS "-", they are read from a file or stdin. The node checks the
arguments against the function's declared shape before the library sees
them.

Exit status: 0 on success, 1 if the function failed or crashed, 64 for an
unknown library or function, 65 for arguments that do not match, 124 when
the deadline passed.

Flags:
`, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.DurationVar(&timeout, "timeout", 10*time.Second, "deadline of the call (propagates to the library)")
			fs.StringVar(&file, "file", "", "read the arguments from this file")
		})
	if code >= 0 {
		return code
	}
	if len(pos) < 2 || len(pos) > 3 || (file != "" && len(pos) == 3) {
		fmt.Fprintln(stderr, "orbital call: expected LIBRARY FUNCTION [ARGS] (or --file F instead of ARGS)")
		return exitUsage
	}
	var data []byte
	var err error
	switch {
	case file != "":
		data, err = os.ReadFile(file)
	case len(pos) == 3 && pos[2] == "-":
		data, err = io.ReadAll(stdin)
	case len(pos) == 3:
		data = []byte(pos[2])
	}
	if err != nil {
		fmt.Fprintf(stderr, "orbital call: arguments: %v\n", err)
		return exitUsage
	}
	res, err := c.Call(context.Background(), pos[0], pos[1], data, timeout)
	if err != nil {
		fmt.Fprintf(stderr, "orbital call: %v\n", err)
		switch {
		case errors.Is(err, api.ErrTimeout):
			return exitDeadline
		case errors.Is(err, api.ErrInvalid), errors.Is(err, api.ErrTooLarge):
			return exitBadInput
		case errors.Is(err, api.ErrVersion):
			return exitUsage
		}
		return codeFor(err)
	}
	_, _ = stdout.Write(res)
	if len(res) > 0 && res[len(res)-1] != '\n' && isText(res) {
		fmt.Fprintln(stdout)
	}
	return exitOK
}

// isText reports whether b looks like printable UTF-8 (then a newline is
// added after it for the terminal).
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

func cmdLogs(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var follow bool
	var last int
	c, pos, code := ctlCommand("logs", "Usage: orbital logs [-f] [-n N] NAME\n\nPrints the last lines process NAME logged: its stdout and stderr, its\norbital_v1.log calls and the node's records about it (starts, crashes,\ntriggers). The node keeps the last 1000 lines of each process.\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.BoolVar(&follow, "f", false, "keep printing new lines until interrupted")
			fs.IntVar(&last, "n", 0, "print only the last N lines kept (0: all)")
		})
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital logs: expected one process NAME")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lines, next, err := c.Logs(ctx, pos[0], 0, 0)
	if err != nil {
		fmt.Fprintf(stderr, "orbital logs: %v\n", err)
		return codeFor(err)
	}
	if last > 0 && len(lines) > last {
		lines = lines[len(lines)-last:]
	}
	print := func(l api.LogLine) error {
		_, err := fmt.Fprintf(stdout, "%s %-5s %-6s %s\n", l.Time.Local().Format("15:04:05.000"), l.Level, l.Source, l.Text)
		return err
	}
	for _, l := range lines {
		_ = print(l)
	}
	if !follow {
		return exitOK
	}
	if err := c.FollowLogs(ctx, pos[0], next, print); err != nil {
		fmt.Fprintf(stderr, "orbital logs: %v\n", err)
		return codeFor(err)
	}
	return exitOK
}

func cmdNodes(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var asJSON bool
	c, pos, code := ctlCommand("nodes", "Usage: orbital nodes [--json]\n\nLists the nodes of the running node's cluster: their state, health and\nwhat runs where (* marks this node). See [cluster] in the node config.\n\nFlags:\n", args, stdout, stderr,
		func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") })
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "orbital nodes: takes no arguments")
		return exitUsage
	}
	v, err := c.Nodes(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "orbital nodes: %v\n", err)
		return codeFor(err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return exitOK
	}
	if v.Stats.Cluster == "" {
		fmt.Fprintln(stdout, "this node is not in a cluster; see [cluster] in the node config (docs/CLUSTER.md)")
		return exitOK
	}
	fmt.Fprintf(stdout, "cluster %s, this node %s, NATS %s (connected: %v)\n", v.Stats.Cluster, v.Stats.Node, v.Stats.Server, v.Stats.Connected)
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATE\tVERSION\tUPTIME\tSTATUS\tPROCESSES\tLIBRARIES\tEXPORTS")
	for _, n := range v.Nodes {
		name := n.Name
		if n.Self {
			name += "*"
		}
		var procs []string
		for _, p := range n.Processes {
			procs = append(procs, p.Name)
		}
		uptime := "-"
		if n.State == api.NodeUp && !n.Started.IsZero() {
			uptime = time.Since(n.Started).Round(time.Second).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d: %s\t%s\t%s\n", name, n.State, n.Version, uptime, n.Health.Status,
			len(procs), dash(strings.Join(procs, ",")), dash(strings.Join(n.Libraries, ",")), dash(strings.Join(n.Exports, ",")))
	}
	_ = w.Flush()
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
