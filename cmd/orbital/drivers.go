package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/drivers"
	_ "github.com/orbitalfoundation/orbital/drivers/camera" // the camera driver, in-process
)

// cmdDrivers lists the in-process drivers compiled into the binary: the
// registry a node config's [[driver]] driver = "NAME" picks from.
func cmdDrivers(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("drivers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print each driver's manifest as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: orbital drivers [--json]\n\nLists the device drivers compiled into this binary (enable one in the node\nconfig with [[driver]] driver = \"NAME\"; a driver that is a separate program\nuses exec = \"PATH\" instead; see docs/DRIVERS.md). Running drivers are in\norbital ps.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "orbital drivers: takes no arguments")
		return exitUsage
	}
	var out []*orbital.Manifest
	for _, d := range drivers.List() {
		m, err := orbital.ParseManifest(d.Manifest, "driver "+d.Name)
		if err != nil {
			fmt.Fprintf(stderr, "orbital drivers: %s: %v\n", d.Name, err)
			return exitFailure
		}
		out = append(out, m)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DRIVER\tVERSION\tEXPORTS\tRESOURCES\tDESCRIPTION")
	for i, m := range out {
		var ex []string
		for _, e := range m.Exports() {
			ex = append(ex, e.Name)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", drivers.List()[i].Name, m.Version(), join(ex), join(m.DriverResources()), m.Description())
	}
	_ = w.Flush()
	return exitOK
}

func join(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	out := s[0]
	for _, x := range s[1:] {
		out += "," + x
	}
	return out
}
