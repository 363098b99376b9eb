package orbital_test

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const modulePath = "github.com/orbitalfoundation/orbital"

// packageImports lists every package of the module (examples and the SDK,
// which are guests, left out) with its imports, test files not counted.
func packageImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		name := short(f[0])
		if strings.HasPrefix(name, "examples/") || name == "sdk" || strings.HasPrefix(name, "sdk/") {
			continue
		}
		pkgs[name] = f[1:]
	}
	return pkgs
}

// short names a package of the module relative to it ("orbital" for the
// root); other packages keep their path.
func short(p string) string {
	switch {
	case p == modulePath:
		return "orbital"
	case strings.HasPrefix(p, modulePath+"/"):
		return strings.TrimPrefix(p, modulePath+"/")
	}
	return p
}

// own returns the module's own packages among imports.
func own(imports []string) []string {
	var out []string
	for _, i := range imports {
		if i == modulePath || strings.HasPrefix(i, modulePath+"/") {
			out = append(out, short(i))
		}
	}
	sort.Strings(out)
	return out
}

// layer says where a package sits: the arrows point down only
// (kernel ← services ← UI).
func layer(p string) int {
	switch {
	case p == "api" || p == "internal/abi" || p == "internal/subject" || p == "internal/leb128" || p == "internal/shape" ||
		p == "internal/testwait" || p == "internal/testwasm" || p == "internal/wasitest" || p == "internal/sse" || p == "internal/display" ||
		p == "drivers" || p == "drivers/wire" || p == "drivers/proc" || p == "internal/benchreport" || p == "internal/benchreport/cmd/benchreport":
		return 0 // leaves (drivers*: what a driver is written against; it knows nothing of the kernel; benchreport: a tool of make bench)
	case p == "orbital" || slices.Contains([]string{"internal/engine", "internal/process", "internal/bus", "internal/library",
		"internal/capability", "internal/manifest", "internal/fs", "internal/wasi", "internal/supervisor", "internal/logring", "internal/raster"}, p) ||
		strings.HasPrefix(p, "internal/library/"):
		return 1 // the kernel
	case p == "internal/control" || p == "internal/metrics":
		return 2 // the control contract and its exporters, below the services that implement it
	case p == "internal/node" || strings.HasPrefix(p, "internal/node/") || p == "internal/install" || p == "internal/registry" ||
		p == "internal/fetch" || p == "internal/pack" || p == "internal/cluster" || p == "internal/compositor" ||
		strings.HasPrefix(p, "internal/display/"):
		return 3 // services
	case p == "internal/admin" || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "drivers/") || p == "internal/testwasm/warm":
		return 4 // UI, drivers and binaries
	}
	return -1
}

// TestLayers: every package has a layer, no package imports one above its
// own, only the engine runs wazero, the node's parts reach the kernel
// through the root package only, and the control API knows nothing of the
// panel or the node.
func TestLayers(t *testing.T) {
	pkgs := packageImports(t)
	for p, imports := range pkgs {
		lp := layer(p)
		if lp < 0 {
			t.Errorf("%s has no layer: add it to layer() in layers_test.go and to docs/ARCHITECTURE.md", p)
			continue
		}
		for _, i := range own(imports) {
			li := layer(i)
			// The kernel's internal packages sit below the root package.
			if lp == 1 && p != "orbital" && i == "orbital" {
				t.Errorf("%s (kernel) imports the root package", p)
			}
			if li > lp {
				t.Errorf("%s (layer %d) imports %s (layer %d): arrows point down only", p, lp, i, li)
			}
		}
		for _, i := range imports {
			if strings.HasPrefix(i, "github.com/nats-io/") && p != "internal/cluster" {
				t.Errorf("%s imports %s: only internal/cluster talks NATS (the kernel never learns it exists)", p, i)
			}
			if strings.HasPrefix(i, "github.com/tetratelabs/wazero") && p != "internal/engine" &&
				!((p == "internal/fs" || p == "internal/wasi") && (strings.HasSuffix(i, "/experimental/sys") || strings.HasSuffix(i, "/sys"))) {
				t.Errorf("%s imports %s: only internal/engine runs wazero (internal/fs and internal/wasi name its file types)", p, i)
			}
		}
		if p == "internal/node" || strings.HasPrefix(p, "internal/node/") || p == "internal/cluster" {
			for _, i := range own(imports) {
				if slices.Contains([]string{"internal/engine", "internal/process", "internal/bus", "internal/library"}, i) {
					t.Errorf("%s imports %s: the node uses the kernel through package orbital only", p, i)
				}
			}
		}
		if p == "internal/control" {
			for _, i := range own(imports) {
				if i != "api" && i != "internal/metrics" && i != "internal/sse" && i != "internal/display" {
					t.Errorf("internal/control imports %s: the API is a handler over its backends (api and display types only)", i)
				}
			}
		}
		if p == "api" {
			for _, i := range imports {
				if strings.Contains(i, ".") {
					t.Errorf("api imports %s: it is the standard library's only", i)
				}
			}
		}
	}
}

// TestArchitectureTable: the package table of docs/ARCHITECTURE.md lists
// every package with exactly the module's packages it imports, so the
// document cannot drift from the code.
func TestArchitectureTable(t *testing.T) {
	pkgs := packageImports(t)
	doc, err := os.ReadFile("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\|[^|]*\\| (.*) \\|$")
	tick := regexp.MustCompile("`([^`]+)`")
	listed := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name := m[1]
		imports, ok := pkgs[name]
		if !ok {
			t.Errorf("docs/ARCHITECTURE.md lists %s, which is not a package", name)
			continue
		}
		listed[name] = true
		var doclist []string
		for _, i := range tick.FindAllStringSubmatch(m[2], -1) {
			if layer(i[1]) >= 0 {
				doclist = append(doclist, i[1])
			}
		}
		sort.Strings(doclist)
		if want := own(imports); !slices.Equal(doclist, want) {
			t.Errorf("docs/ARCHITECTURE.md: %s imports %v, the table says %v", name, want, doclist)
		}
	}
	for p := range pkgs {
		if !listed[p] {
			t.Errorf("docs/ARCHITECTURE.md's package table does not list %s", p)
		}
	}
}
