package benchreport

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Module is the import path results' "pkg:" lines are relative to.
const Module = "github.com/orbitalfoundation/orbital"

// Results are the measurements of one results file: for each benchmark
// ("PKG NAME") and unit, the values of every run.
type Results struct {
	// Config is the file's header: the configuration lines before the
	// first benchmark (date, machine, go, wazero, goos, cpu…).
	Config map[string]string
	values map[string]map[string][]float64
}

// ReadResults reads Go benchmark output. Lines that are not benchmark
// results or configuration are ignored; a malformed result line is an
// error naming its line.
func ReadResults(r io.Reader, name string) (*Results, error) {
	res := &Results{Config: map[string]string{}, values: map[string]map[string][]float64{}}
	br := benchfmt.NewReader(r, name)
	seen := false
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, fmt.Errorf("bench results: %w", rec)
		case *benchfmt.Result:
			if !seen {
				for _, c := range rec.Config {
					if c.File {
						res.Config[c.Key] = string(c.Value)
					}
				}
				seen = true
			}
			key := resultKey(rec.GetConfig("pkg"), rec.Name)
			units := res.values[key]
			if units == nil {
				units = map[string][]float64{}
				res.values[key] = units
			}
			for _, v := range rec.Values {
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				units[unit] = append(units[unit], val)
			}
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("bench results: %w", err)
	}
	return res, nil
}

// resultKey is "PKG NAME": PKG relative to Module ("." for it), NAME
// without the -GOMAXPROCS suffix.
func resultKey(pkg string, name benchfmt.Name) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, Module), "/")
	if rel == "" {
		rel = "."
	}
	base, parts := name.Parts()
	var b bytes.Buffer
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			continue // GOMAXPROCS
		}
		b.Write(p)
	}
	return rel + " " + b.String()
}

// Median returns the median of the runs of key in unit.
func (r *Results) Median(key, unit string) (float64, int, bool) {
	vs := r.values[normKey(key)][unit]
	if len(vs) == 0 {
		return 0, 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], n, true
	}
	return (s[n/2-1] + s[n/2]) / 2, n, true
}

// Units lists the units key was measured in, sorted.
func (r *Results) Units(key string) []string {
	var out []string
	for u := range r.values[normKey(key)] {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

func normKey(k string) string {
	pkg, name, _ := strings.Cut(strings.TrimSpace(k), " ")
	return pkg + " " + strings.TrimSpace(name)
}
