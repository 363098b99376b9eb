package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
)

const inspectUsage = `Usage: orbital inspect [flags] MODULE.wasm

Shows what a module declares: imports, exports, memories, custom sections,
its manifest, and which capabilities its imports imply it will ask for.
Nothing of the module runs.

Flags:
`

func cmdInspect(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("inspect", inspectUsage, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	manifestPath := fs.String("manifest", "", "manifest file (default: found beside the module)")
	pos, code := fs.parse(args, stdout)
	if code >= 0 {
		return code
	}
	var err error
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital inspect: expected exactly one MODULE.wasm")
		return exitUsage
	}
	ctx := context.Background()
	// Inspecting compiles nothing to disk and needs no data directory.
	k, err := orbital.NewKernel(ctx, orbital.NewConfig().WithCompileCache(false))
	if err != nil {
		fmt.Fprintf(stderr, "orbital inspect: %v\n", err)
		return exitFailure
	}
	defer k.Close(ctx)
	var opts orbital.LoadOptions
	if *manifestPath != "" {
		if opts.Manifest, err = orbital.LoadManifest(*manifestPath); err != nil {
			fmt.Fprintf(stderr, "orbital inspect: %v\n", err)
			return codeFor(err)
		}
	}
	mod, err := k.LoadFileWith(ctx, pos[0], opts)
	if err != nil {
		fmt.Fprintf(stderr, "orbital inspect: %v\n", err)
		return codeFor(err)
	}
	info := mod.Info()
	if *asJSON {
		out := struct {
			Module   string            `json:"module"`
			Info     api.WasmInfo      `json:"info"`
			Manifest *orbital.Manifest `json:"manifest,omitempty"`
		}{mod.Label(), info, mod.Manifest()}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return exitFailure
		}
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "module\t%s\n", mod.Label())
	fmt.Fprintf(w, "sha256\t%s\n", info.Digest)
	if m := mod.Manifest(); m != nil {
		fmt.Fprintf(w, "kind\t%s\n", m.Kind())
		fmt.Fprintf(w, "manifest\t%s\n", m.Source())
	} else {
		fmt.Fprintf(w, "manifest\tnone (the module gets only stdio and what flags grant)\n")
	}
	fmt.Fprintf(w, "implies\t%s\n", orNone(strings.Join(info.Implies, ", ")))
	w.Flush()
	fmt.Fprintf(stdout, "\nimports (%d):\n", len(info.Imports))
	for _, f := range info.Imports {
		fmt.Fprintf(stdout, "  %s.%s(%s) %s\n", f.Module, f.Name, strings.Join(f.Params, ", "), strings.Join(f.Results, ", "))
	}
	fmt.Fprintf(stdout, "\nexports (%d):\n", len(info.Exports))
	for _, f := range info.Exports {
		fmt.Fprintf(stdout, "  %s(%s) %s\n", f.Name, strings.Join(f.Params, ", "), strings.Join(f.Results, ", "))
	}
	fmt.Fprintf(stdout, "\nmemories (%d):\n", len(info.Memories))
	for _, m := range info.Memories {
		mx := "no max"
		if m.HasMax {
			mx = fmt.Sprintf("max %d pages", m.Max)
		}
		fmt.Fprintf(stdout, "  %s: min %d pages (%d KiB), %s\n", m.Name, m.Min, m.Min*64, mx)
	}
	fmt.Fprintf(stdout, "\ncustom sections (%d):\n", len(info.Custom))
	for _, s := range info.Custom {
		fmt.Fprintf(stdout, "  %s (%d bytes)\n", s.Name, s.Size)
	}
	if m := mod.Manifest(); m != nil {
		c := m.Requests()
		fmt.Fprintln(stdout, "\nmanifest requests:")
		fmt.Fprintf(stdout, "  args=%v env=%v stdin=%v stdout=%v stderr=%v clock=%v random=%v network=%v\n",
			c.Args, c.Env, c.Stdin, c.Stdout, c.Stderr, c.Clock, c.Random, c.Network)
		for _, r := range c.FS {
			access := "rw"
			if r.ReadOnly {
				access = "ro"
			}
			fmt.Fprintf(stdout, "  fs %s (%s)%s\n", r.Path, access, map[bool]string{true: " optional"}[r.Optional])
		}
		for _, io := range m.Streams() {
			dir, bind := "in", "stdio"
			if io.Output {
				dir = "out"
			}
			if io.File {
				bind = "file"
			}
			fmt.Fprintf(stdout, "  io %s: %s stream bound to %s\n", io.Name, dir, bind)
		}
	}
	return exitOK
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func cmdVersion(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprintln(stdout, "Usage: orbital version\n\nPrints the orbital version and the wazero version it runs on.")
		return exitOK
	}
	fmt.Fprintf(stdout, "orbital %s\n", orbital.Version)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				fmt.Fprintf(stdout, "wazero %s\n", d.Version)
			}
		}
		fmt.Fprintf(stdout, "go %s\n", bi.GoVersion)
	}
	return exitOK
}
