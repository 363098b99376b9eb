package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// depSpec is one dependency as the solver sees it.
type depSpec struct {
	name     string
	rng      string
	c        *semver.Constraints
	optional bool
}

// pick is a module chosen for the closure.
type pick struct {
	name, version string
	kind          manifest.Kind
	v             *semver.Version
	deps          []depSpec
	parent        *pick // the module whose dependency chose it; nil for the root
}

// chain names the path from the root to p: "app@1.0.0 → kv@1.0.0".
func (p *pick) chain() string {
	var parts []string
	for q := p; q != nil; q = q.parent {
		parts = append(parts, ref(q.name, q.version))
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " → ")
}

// need is a dependency of a picked module, waiting to be satisfied.
type need struct {
	from *pick
	dep  depSpec
}

// candidate is an installed version the solver may pick.
type candidate struct {
	rec    Record
	v      *semver.Version
	deps   []depSpec
	pinned bool
}

// candidates are the installed versions of one name, highest first.
type candidates struct {
	kind manifest.Kind // "" when no version is installed (or all are excluded)
	list []candidate
}

// installed lists the candidates' versions in ascending order.
func (cs *candidates) installed() string {
	if len(cs.list) == 0 {
		return "none"
	}
	vs := make([]string, len(cs.list))
	for i, c := range cs.list {
		vs[len(cs.list)-1-i] = c.rec.Version
	}
	return strings.Join(vs, ", ")
}

// solver resolves the dependency closure of one module against the
// installed modules; see the package documentation for the rules.
type solver struct {
	tx      *bolt.Tx
	exclude map[string]bool // refs treated as not installed (Remove's check)
	cache   map[string]*candidates
	sel     map[string]*pick
	steps   int
}

func newSolver(tx *bolt.Tx, exclude map[string]bool) *solver {
	return &solver{tx: tx, exclude: exclude, cache: map[string]*candidates{}}
}

// constraint parses a stored range.
func (s *solver) constraint(rng string) (*semver.Constraints, error) {
	c, err := parseRange(rng)
	if err != nil {
		return nil, fmt.Errorf("version range %q: %w", rng, api.ErrBadManifest)
	}
	return c, nil
}

// specs converts recorded dependencies.
func (s *solver) specs(deps []Dependency) ([]depSpec, error) {
	out := make([]depSpec, 0, len(deps))
	for _, d := range deps {
		c, err := s.constraint(d.Range)
		if err != nil {
			return nil, err
		}
		out = append(out, depSpec{name: d.Name, rng: d.Range, c: c, optional: d.Optional})
	}
	return out, nil
}

// candidates loads the installed versions of name: the pinned version
// first, then highest to lowest.
func (s *solver) candidates(name string) (*candidates, error) {
	if cs, ok := s.cache[name]; ok {
		return cs, nil
	}
	recs, err := versionsOf(s.tx, name)
	if err != nil {
		return nil, err
	}
	cs := &candidates{}
	var pinned []candidate
	for _, rec := range recs {
		if s.exclude[rec.Ref()] {
			continue
		}
		v, err := semver.StrictNewVersion(rec.Version)
		if err != nil {
			return nil, fmt.Errorf("index record %s: %w", rec.Ref(), api.ErrInvalid)
		}
		deps, err := s.specs(rec.Dependencies)
		if err != nil {
			return nil, fmt.Errorf("index record %s: %w", rec.Ref(), err)
		}
		cs.kind = manifest.Kind(rec.Kind)
		c := candidate{rec: rec, v: v, deps: deps, pinned: rec.Pinned}
		if rec.Pinned {
			pinned = append(pinned, c)
		}
		cs.list = append(cs.list, c)
	}
	s.cache[name] = cs
	if len(pinned) > 0 {
		order := append([]candidate(nil), pinned...)
		for _, c := range cs.list {
			if !c.pinned {
				order = append(order, c)
			}
		}
		return &candidates{kind: cs.kind, list: order}, nil
	}
	return cs, nil
}

// solve resolves the closure of root. It returns the chosen module for
// every library name reached (the root included).
func (s *solver) solve(root *pick) (map[string]*pick, error) {
	s.sel = map[string]*pick{root.name: root}
	s.steps = 0
	if _, err := s.run(needsOf(root), 0); err != nil {
		return nil, err
	}
	return s.sel, nil
}

func needsOf(p *pick) []need {
	out := make([]need, len(p.deps))
	for i, d := range p.deps {
		out[i] = need{from: p, dep: d}
	}
	return out
}

// run satisfies queue[i:], breadth first, backtracking over the choice of
// version for each newly reached library. It returns the first error met.
func (s *solver) run(queue []need, i int) ([]need, error) {
	for ; i < len(queue); i++ {
		if s.steps++; s.steps > MaxResolveSteps {
			return nil, fmt.Errorf("dependency resolution gave up after %d steps: %w", MaxResolveSteps, api.ErrLimit)
		}
		n := queue[i]
		if p := s.sel[n.dep.name]; p != nil {
			switch {
			case p.kind == manifest.KindLibrary && n.dep.c.Check(p.v):
				continue
			case n.dep.optional:
				continue // left out
			case p.kind != manifest.KindLibrary:
				return nil, notLibrary(n, p.kind)
			}
			return nil, s.conflict(queue[:i], p, n)
		}
		cs, err := s.candidates(n.dep.name)
		if err != nil {
			return nil, err
		}
		var first error
		if cs.kind == manifest.KindLibrary {
			for _, c := range cs.list {
				if !n.dep.c.Check(c.v) {
					continue
				}
				s.sel[n.dep.name] = &pick{name: c.rec.Name, version: c.rec.Version, kind: manifest.Kind(c.rec.Kind), v: c.v, deps: c.deps, parent: n.from}
				q := append(queue[:len(queue):len(queue)], needsOf(s.sel[n.dep.name])...)
				out, err := s.run(q, i+1)
				if err == nil {
					return out, nil
				}
				delete(s.sel, n.dep.name)
				if errors.Is(err, api.ErrLimit) {
					return nil, err
				}
				if first == nil {
					first = err
				}
			}
		}
		if n.dep.optional {
			out, err := s.run(queue, i+1) // leave it out
			if err == nil || errors.Is(err, api.ErrLimit) || first == nil {
				return out, err
			}
			return nil, first
		}
		if first == nil {
			first = noMatch(n, cs)
		}
		return nil, first
	}
	return queue, nil
}

// who names the module that has need n.
func (n need) who() string { return n.from.chain() }

func notLibrary(n need, kind manifest.Kind) error {
	return fmt.Errorf("%s needs %s %s: %s is %s %s, not a library: %w", n.who(), n.dep.name, n.dep.rng, n.dep.name, article(string(kind)), kind, api.ErrInvalid)
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an"
	}
	return "a"
}

// noMatch explains why no installed version of a library satisfies n.
func noMatch(n need, cs *candidates) error {
	switch {
	case cs.kind == "":
		return fmt.Errorf("%s needs %s %s: %s is not installed: %w", n.who(), n.dep.name, n.dep.rng, n.dep.name, api.ErrNotFound)
	case cs.kind != manifest.KindLibrary:
		return notLibrary(n, cs.kind)
	}
	return fmt.Errorf("%s needs %s %s: %w (installed: %s)", n.who(), n.dep.name, n.dep.rng, api.ErrVersion, cs.installed())
}

// conflict explains why n cannot use p, the version already chosen for its
// library by the needs before it (done). It blames one earlier range that
// has no installed version in common with n's when there is one.
func (s *solver) conflict(done []need, p *pick, n need) error {
	cs, err := s.candidates(n.dep.name)
	if err != nil {
		return err
	}
	var same []need // earlier needs satisfied by p
	for _, d := range done {
		if d.dep.name == n.dep.name && d.dep.c.Check(p.v) {
			same = append(same, d)
		}
	}
	for _, d := range same {
		common := false
		for _, c := range cs.list {
			if d.dep.c.Check(c.v) && n.dep.c.Check(c.v) {
				common = true
				break
			}
		}
		if !common {
			return fmt.Errorf("%s needs %s %s but %s needs %s %s: %w (installed: %s)",
				d.who(), d.dep.name, d.dep.rng, n.who(), n.dep.name, n.dep.rng, api.ErrVersion, cs.installed())
		}
	}
	if p.parent == nil { // the root itself
		return fmt.Errorf("%s needs %s %s but this is %s: %w (installed: %s)",
			n.who(), n.dep.name, n.dep.rng, ref(p.name, p.version), api.ErrVersion, cs.installed())
	}
	return fmt.Errorf("%s needs %s %s but %s %s was chosen for %s: %w (installed: %s)",
		n.who(), n.dep.name, n.dep.rng, p.name, p.version, p.parent.chain(), api.ErrVersion, cs.installed())
}

// rootPick makes the pick for a module that is about to be installed.
func rootPick(m *manifest.Manifest) *pick {
	p := &pick{name: m.Name, version: m.Version.String(), kind: m.Kind, v: m.Version}
	for _, d := range m.DependencyList() {
		p.deps = append(p.deps, depSpec{name: d.Name, rng: d.Range, c: d.Constraint, optional: d.Optional})
	}
	return p
}

// recordPick makes the root pick for an installed record.
func (s *solver) recordPick(rec Record) (*pick, error) {
	v, err := semver.StrictNewVersion(rec.Version)
	if err != nil {
		return nil, fmt.Errorf("index record %s: %w", rec.Ref(), api.ErrInvalid)
	}
	deps, err := s.specs(rec.Dependencies)
	if err != nil {
		return nil, fmt.Errorf("index record %s: %w", rec.Ref(), err)
	}
	return &pick{name: rec.Name, version: rec.Version, kind: manifest.Kind(rec.Kind), v: v, deps: deps}, nil
}

// resolveDeps resolves the closure of the module m about to be installed and
// returns its direct dependencies with the chosen versions.
func resolveDeps(tx *bolt.Tx, m *manifest.Manifest) ([]Dependency, error) {
	root := rootPick(m)
	sel, err := newSolver(tx, nil).solve(root)
	if err != nil {
		return nil, err
	}
	var out []Dependency
	for _, d := range m.DependencyList() {
		dep := Dependency{Name: d.Name, Range: d.Range, Functions: d.Functions, Optional: d.Optional}
		if p := sel[d.Name]; p != nil && p.kind == manifest.KindLibrary && d.Constraint.Check(p.v) {
			dep.Resolved = p.version
		}
		out = append(out, dep)
	}
	return out, nil
}
