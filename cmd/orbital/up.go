package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/internal/admin"
	"github.com/orbitalfoundation/orbital/internal/cluster"
	"github.com/orbitalfoundation/orbital/internal/control"
	"github.com/orbitalfoundation/orbital/internal/node"
	"github.com/orbitalfoundation/orbital/internal/node/config"
)

const upUsage = `Usage: orbital up [flags] [NODE.toml]

Starts a long-running node: the processes of the node config run under a
supervisor (crashes are restarted within a budget), talk over the message
bus, and are steered with orbital ps / stop / restart / kill / pub / sub /
request / send / start / logs through a local control API (loopback,
token in $ORBITAL_HOME/node.json), which also serves the browser admin
panel (orbital admin url prints its login link; on a terminal, orbital up
prints it once). A control address off loopback needs allow_remote = true
and a provisioned token_file in [node]. Without a config it runs the
bundled example system (modules from $ORBITAL_HOME/modules or ./build/wasm;
build them with make examples). SIGINT or SIGTERM stops every process
gracefully (a stop message, then a kill after the grace period).

Cluster: many nodes are one system over NATS ([cluster] in the node config,
or the flags below; docs/CLUSTER.md). --cluster NAME joins cluster NAME:
with --cluster-url the node joins that NATS server; without one it runs an
embedded NATS server (bin/orbital-server; the device build bin/orbital has
none) that other nodes join at --cluster-listen, routed to the embedded
servers of --routes. Only the bus subjects in [bus] export and the
libraries in [cluster] libraries are shared: nothing by default.

Screen: processes granted a display (display = "WxH" in their [[process]])
draw into windows the node's compositor shows in the admin panel's Screen
view, in orbital screenshot and on the displays of [screen] (an X11
window in bin/orbital-server, the Linux framebuffer); docs/SCREEN.md.

Flags:
`

func cmdUp(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orbital up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home := fs.String("home", "", "data directory (default $ORBITAL_HOME or ~/.orbital)")
	level := fs.String("log", "", "log level: debug, info, warn, error (default from the config: info)")
	name := fs.String("name", "", "the node's name (default [node] name, else the host name)")
	clusterName := fs.String("cluster", "", "join (or with an embedded server, form) the cluster of this name")
	clusterURL := fs.String("cluster-url", "", "the NATS server(s) to join, nats://host:4222[,…] (implies --cluster orbital)")
	clusterListen := fs.String("cluster-listen", "", "embedded NATS server: client address (default 127.0.0.1:4222)")
	routeListen := fs.String("route-listen", "", "embedded NATS server: address other servers route to")
	routes := fs.String("routes", "", "embedded NATS server: other servers to route to, nats://host:6222[,…]")
	fs.Usage = func() { fmt.Fprint(fs.Output(), upUsage); fs.PrintDefaults() }
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) > 1 {
		fs.Usage()
		return exitUsage
	}
	if *home == "" {
		*home = orbital.DefaultHome()
	}
	var cfg *config.Config
	if len(pos) == 1 {
		cfg, err = config.Load(pos[0], *home)
	} else {
		wd, _ := os.Getwd()
		cfg, err = config.Parse(config.Demo, "built-in demo config", wd, *home)
	}
	if err == nil {
		err = clusterFlags(cfg, *name, *clusterName, *clusterURL, *clusterListen, *routeListen, *routes)
	}
	if err != nil {
		fmt.Fprintf(stderr, "orbital up: %v\n", err)
		return exitBadInput
	}
	lv := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	l, ok := lv[cfg.LogLevel]
	if *level != "" {
		if l, ok = lv[*level]; !ok {
			fmt.Fprintf(stderr, "orbital up: --log %q: want debug, info, warn or error\n", *level)
			return exitUsage
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l}))

	var token string // a provisioned control token, read before anything starts
	if cfg.TokenFile != "" {
		if token, err = control.ReadTokenFile(cfg.TokenFile); err != nil {
			fmt.Fprintf(stderr, "orbital up: %v\n", err)
			return exitBadInput
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var opts node.Options
	if isTerminal(stderr) {
		// Modules compile in parallel at boot; a line each as they start and end.
		opts.Progress = compileLines(stderr)
	}
	n, err := node.Start(ctx, cfg, *home, logger, opts)
	if err != nil {
		fmt.Fprintf(stderr, "orbital up: %v\n", err)
		return codeFor(err)
	}
	// The control listener serves the control API inside the admin panel's
	// authentication (bearer token, or the panel's session with CSRF checks).
	srv, err := control.Listen(control.Options{Addr: cfg.Control, Home: *home, Token: token})
	if err != nil {
		fmt.Fprintf(stderr, "orbital up: %v\n", err)
		_ = n.Close(context.Background())
		return exitFailure
	}
	admin.Serve(srv, n.Backends())
	logger.Info("node up", "config", cfg.Source, "processes", len(cfg.Processes), "control", "http://"+srv.Addr(), "home", *home)
	boot := n.Health().Boot
	fmt.Fprintf(stdout, "orbital: node up with %d processes in %s (%s); control API on %s (try: orbital ps)\n",
		len(n.Runner().Processes()), roundDuration(time.Duration(boot.Seconds*float64(time.Second))), bootSummary(boot), srv.Addr())
	if cl := n.Cluster(); cl != nil {
		join := ""
		if u := cl.ClientURL(); u != "" {
			join = "; other nodes join with --cluster-url " + u
		}
		fmt.Fprintf(stdout, "orbital: node %s in cluster %s%s (try: orbital nodes)\n", cl.Name(), cfg.Cluster.Name, join)
	}
	if isTerminal(stdout) {
		// Printed once, to the person at the terminal; never to the logs.
		fmt.Fprintf(stdout, "orbital: admin panel: %s\n", admin.LoginURL(srv.Addr(), srv.Token()))
	} else {
		fmt.Fprintf(stdout, "orbital: admin panel at %s (log in with: orbital admin url)\n", admin.URL(srv.Addr()))
	}

	code := exitOK
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "grace", cfg.Grace)
	case <-n.Done():
		logger.Error("supervision tree ended unexpectedly; shutting down")
		code = exitFailure
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace+5*time.Second)
	defer cancel()
	_ = srv.Close(sctx)
	if err := n.Close(sctx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	logger.Info("node down")
	return code
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// clusterFlags applies up's cluster flags over the config's [cluster].
func clusterFlags(cfg *config.Config, name, clusterName, url, listen, routeListen, routes string) error {
	if name != "" {
		if err := cluster.ValidNodeName(name); err != nil {
			return fmt.Errorf("--name: %w", err)
		}
		cfg.Name = name
		if cfg.Cluster != nil {
			cfg.Cluster.Node = name
		}
	}
	if clusterName == "" && url == "" && listen == "" && routeListen == "" && routes == "" {
		return nil
	}
	cc := cfg.Cluster
	if cc == nil {
		cc = &cluster.Config{}
	}
	if clusterName != "" {
		cc.Name = clusterName
	}
	if url != "" {
		cc.URL, cc.Embedded = url, false
	}
	if listen != "" {
		cc.Listen = listen
	}
	if routeListen != "" {
		cc.RouteListen = routeListen
	}
	if routes != "" {
		cc.Routes = strings.Split(routes, ",")
	}
	if cc.URL == "" {
		cc.Embedded = true
	}
	cc.Node = ""
	if name != "" {
		cc.Node = name
	}
	return cfg.SetCluster(cc)
}
