// Package benchreport keeps docs/BENCHMARKS.md's tables in step with the
// measurements: `make bench` runs the benchmarks a spec names
// (docs/bench/report.toml), records Go's benchmark output with the date,
// machine and versions in a results file (docs/bench/results.txt, read
// with golang.org/x/perf/benchfmt), and renders each table of the spec —
// every figure beside its floor and its goal — between markers in the
// document. A test renders the committed results again and fails when
// the document says something else, so a table cannot drift from its
// results, and a regression shows as a diff of the results file.
package benchreport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Spec is what make bench runs and which tables it writes.
type Spec struct {
	Runs   []Run   `toml:"run"`
	Tables []Table `toml:"table"`
}

// Run is one `go test -bench` invocation.
type Run struct {
	Pkg       string `toml:"pkg"`       // package pattern, e.g. "./internal/engine"
	Bench     string `toml:"bench"`     // -bench regexp
	Benchtime string `toml:"benchtime"` // -benchtime; empty: go test's default
	Count     int    `toml:"count"`     // -count; 0: 1
	Tags      string `toml:"tags"`      // -tags, if any
}

// Table is one generated table: its rows in order.
type Table struct {
	ID    string `toml:"id"` // the marker name in the document
	Title string `toml:"title"`
	Rows  []Row  `toml:"row"`
}

// Row is one figure and what it is compared with.
type Row struct {
	What string `toml:"what"`
	// Bench names a result: "PKG NAME", PKG relative to the module root
	// ("." for the root package), NAME without "Benchmark" and without
	// the -GOMAXPROCS suffix, e.g. "internal/engine HostCall/orbital".
	Bench string `toml:"bench"`
	Unit  string `toml:"unit"` // default "ns/op"
	// Floor names the result this figure is compared with (same form),
	// FloorWhat says what it is, FloorUnit its unit (default Unit).
	Floor     string `toml:"floor"`
	FloorWhat string `toml:"floor_what"`
	FloorUnit string `toml:"floor_unit"`
	// Goal is "<= N" or ">= N" in the row's unit.
	Goal string `toml:"goal"`
}

// ParseSpec parses and checks a spec.
func ParseSpec(data []byte) (*Spec, error) {
	var s Spec
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		return nil, fmt.Errorf("bench spec: %w", err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("bench spec: unknown keys %v", un)
	}
	for i, r := range s.Runs {
		if r.Pkg == "" || r.Bench == "" {
			return nil, fmt.Errorf("bench spec: run %d: pkg and bench are required", i+1)
		}
		if _, err := regexp.Compile(r.Bench); err != nil {
			return nil, fmt.Errorf("bench spec: run %d: bench: %w", i+1, err)
		}
	}
	ids := map[string]bool{}
	for ti, t := range s.Tables {
		if !validID(t.ID) || ids[t.ID] {
			return nil, fmt.Errorf("bench spec: table %d: id %q: want a unique name of letters, digits and -", ti+1, t.ID)
		}
		ids[t.ID] = true
		for ri, r := range t.Rows {
			where := fmt.Sprintf("bench spec: table %s row %d (%s)", t.ID, ri+1, r.What)
			if r.What == "" {
				return nil, fmt.Errorf("%s: what is required", where)
			}
			if _, _, err := splitKey(r.Bench); err != nil {
				return nil, fmt.Errorf("%s: bench: %w", where, err)
			}
			if r.Floor != "" {
				if _, _, err := splitKey(r.Floor); err != nil {
					return nil, fmt.Errorf("%s: floor: %w", where, err)
				}
			}
			if r.Goal != "" {
				if _, _, err := parseGoal(r.Goal); err != nil {
					return nil, fmt.Errorf("%s: goal: %w", where, err)
				}
			}
		}
	}
	return &s, nil
}

func validID(id string) bool {
	if id == "" {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// splitKey splits "PKG NAME".
func splitKey(k string) (pkg, name string, err error) {
	pkg, name, ok := strings.Cut(strings.TrimSpace(k), " ")
	name = strings.TrimSpace(name)
	if !ok || pkg == "" || name == "" || strings.HasPrefix(name, "Benchmark") {
		return "", "", fmt.Errorf("%q: want \"PKG NAME\" (PKG relative to the module, NAME without Benchmark)", k)
	}
	return pkg, name, nil
}

// parseGoal parses "<= N" or ">= N".
func parseGoal(g string) (op string, v float64, err error) {
	g = strings.TrimSpace(g)
	for _, o := range []string{"<=", ">="} {
		if rest, ok := strings.CutPrefix(g, o); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return "", 0, fmt.Errorf("%q: %w", g, err)
			}
			return o, v, nil
		}
	}
	return "", 0, fmt.Errorf("%q: want \"<= N\" or \">= N\"", g)
}
