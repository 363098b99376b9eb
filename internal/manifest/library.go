package manifest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/internal/shape"
)

// Limits on library declarations.
const (
	MaxExportNameLen = 64  // characters in an exported function name
	MaxInstances     = 256 // [library] instances
	MaxRangeLen      = 256 // characters in a dependency's version range
)

// LibrarySpec says how the kernel runs a module of kind "library".
type LibrarySpec struct {
	// Stateful libraries keep state between calls and run as a single
	// instance; stateless ones (the default) may run as several instances
	// in parallel.
	Stateful bool `json:"stateful"`
	// Instances bounds the parallel instances of a stateless library
	// (1..MaxInstances); 0 means the kernel's default. Always 0 for a
	// stateful library.
	Instances int `json:"instances,omitempty"`
}

// Export is a function that a library offers to other modules, called
// through the kernel with arguments and a result of declared shapes (see
// package shape).
type Export struct {
	Name        string       `json:"name"`
	Args        string       `json:"args"`   // canonical shape of the arguments; "bytes" by default
	Result      string       `json:"result"` // canonical shape of the result; "bytes" by default
	ArgsShape   *shape.Shape `json:"-"`      // Args, parsed
	ResultShape *shape.Shape `json:"-"`      // Result, parsed
	Description string       `json:"description,omitempty"`
}

// Dependency is a library that a module calls.
type Dependency struct {
	Name       string              `json:"name"`  // the library's module name
	Range      string              `json:"range"` // semantic version range as written, e.g. "^1.2"
	Constraint *semver.Constraints `json:"-"`     // Range, parsed
	// Functions are the library functions the module calls; nil means all.
	Functions []string `json:"functions,omitempty"`
	// Optional is informational: the module copes without the library.
	Optional bool `json:"optional,omitempty"`
}

// ExportList returns the module's exported functions sorted by name.
func (m *Manifest) ExportList() []Export {
	out := make([]Export, 0, len(m.Exports))
	for _, e := range m.Exports {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DependencyList returns the module's dependencies sorted by name.
func (m *Manifest) DependencyList() []Dependency {
	out := make([]Dependency, 0, len(m.Dependencies))
	for _, d := range m.Dependencies {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var exportNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// ValidateExportName checks the name of a library function: lowercase
// letters, digits and '_', not starting with a digit, at most
// MaxExportNameLen characters.
func ValidateExportName(s string) error {
	if len(s) > MaxExportNameLen || !exportNameRE.MatchString(s) {
		return fmt.Errorf("%q is not a valid function name (lowercase letters, digits and '_', not starting with a digit, at most %d characters)", s, MaxExportNameLen)
	}
	return nil
}

// library decodes [library], [exports.NAME] and [dependencies] into m. It
// runs after kind has been decoded; the kind checks are skipped when kind
// itself is missing or invalid (already reported).
func (d *decoder) library(root *table, m *Manifest) {
	isLib := m.Kind == KindLibrary
	known := m.Kind != ""

	if t := root.sub("library"); t != nil {
		if known && !isLib {
			d.errorf(t.path, "only allowed when kind = %q", KindLibrary)
		}
		m.Library.Stateful = t.boolean("stateful", false)
		if n, ok := t.integer("instances"); ok {
			switch {
			case m.Library.Stateful:
				d.errorf(t.key("instances"), "only allowed for a stateless library (a stateful library runs as one instance)")
			case n < 0 || n > MaxInstances:
				d.errorf(t.key("instances"), "must be between 1 and %d (or 0 for the kernel default), got %d", MaxInstances, n)
			default:
				m.Library.Instances = int(n)
			}
		}
		t.finish()
	}

	present := root.has("exports")
	if t := root.sub("exports"); t != nil {
		switch {
		case known && !isLib && m.Kind != KindDriver:
			d.errorf(t.path, "only allowed when kind = %q or %q (only libraries and drivers offer functions to other modules)", KindLibrary, KindDriver)
		case len(t.m) == 0 && isLib:
			d.errorf(t.path, "a library must export at least one function ([exports.NAME])")
		}
		m.Exports = d.exports(t)
	} else if isLib && !present {
		d.errorf("kind", "a library must export at least one function ([exports.NAME])")
	}

	if t := root.sub("dependencies"); t != nil {
		m.Dependencies = d.dependencies(t)
	}
	d.driver(root, m)
}

// DriverSpec is the [driver] table of a driver's manifest.
type DriverSpec struct {
	// Resources are the host paths the driver needs ("/dev/video0"),
	// absolute and clean. It gets only those its node config grants.
	Resources []string `json:"resources,omitempty"`
}

// driver decodes [driver] and checks a driver's name: a driver owns the
// subjects NAME.> of its device, so its name is one subject token.
func (d *decoder) driver(root *table, m *Manifest) {
	known := m.Kind != ""
	if m.Kind == KindDriver && m.Name != "" && !driverNameRE.MatchString(m.Name) {
		d.errorf("name", "a driver's name is its device's name and the first token of the subjects it publishes: lowercase letters, digits and '-', starting with a letter (%q has '.' or '/')", m.Name)
	}
	t := root.sub("driver")
	if t == nil {
		return
	}
	if known && m.Kind != KindDriver {
		d.errorf(t.path, "only allowed when kind = %q", KindDriver)
	}
	if list, ok := t.strings("resources"); ok {
		for i, p := range list {
			if !filepath.IsAbs(p) || filepath.Clean(p) != p {
				d.errorf(elemPath(t.key("resources"), i), "%q: want an absolute, clean host path such as \"/dev/video0\"", p)
				continue
			}
			m.Driver.Resources = append(m.Driver.Resources, p)
		}
	}
	t.finish()
}

var driverNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ValidateDeviceName checks a device's name (a driver's name): one
// subject token of lowercase letters, digits and '-', starting with a
// letter, at most MaxNameLen characters.
func ValidateDeviceName(s string) error {
	if len(s) > MaxNameLen || !driverNameRE.MatchString(s) {
		return fmt.Errorf("%q is not a device name (lowercase letters, digits and '-', starting with a letter)", s)
	}
	return nil
}

func (d *decoder) exports(t *table) map[string]Export {
	names := sortedTableKeys(t)
	out := make(map[string]Export, len(names))
	for _, name := range names {
		key := t.key(name)
		nameOK := true
		if err := ValidateExportName(name); err != nil {
			d.errorf(key, "%v", err)
			nameOK = false
		}
		et := t.sub(name)
		if et == nil {
			continue
		}
		e := Export{Name: name}
		okArgs, okResult := false, false
		e.ArgsShape, okArgs = d.shape(et, "args")
		e.ResultShape, okResult = d.shape(et, "result")
		e.Args, e.Result = e.ArgsShape.String(), e.ResultShape.String()
		e.Description, _ = et.str("description")
		et.finish()
		if nameOK && okArgs && okResult {
			out[name] = e
		}
	}
	return out
}

// shape decodes the shape spec at k, "bytes" when absent. ok is false if a
// problem was reported.
func (d *decoder) shape(t *table, k string) (s *shape.Shape, ok bool) {
	spec, isStr := t.str(k)
	if !isStr {
		return shape.Bytes, !t.has(k)
	}
	s, err := shape.Parse(spec)
	if err != nil {
		d.errorf(t.key(k), "%v", err)
		return shape.Bytes, false
	}
	return s, true
}

func (d *decoder) dependencies(t *table) map[string]Dependency {
	names := sortedTableKeys(t)
	out := make(map[string]Dependency, len(names))
	for _, name := range names {
		key := t.key(name)
		ok := true
		if err := ValidateName(name); err != nil {
			d.errorf(key, "%v", err)
			ok = false
		}
		dep := Dependency{Name: name}
		switch v := t.m[name].(type) {
		case string:
			dep.Range, dep.Constraint = d.versionRange(key, v)
		case map[string]any:
			dt := d.table(key, v)
			dt.require("version")
			if s, good := dt.str("version"); good {
				dep.Range, dep.Constraint = d.versionRange(dt.key("version"), s)
			}
			if list, good := dt.strings("functions"); good {
				dep.Functions, good = d.functions(dt.key("functions"), list)
				ok = ok && good
			} else if dt.has("functions") {
				ok = false
			}
			dep.Optional = dt.boolean("optional", false)
			dt.finish()
		default:
			d.errorf(key, "must be a version range such as \"^1.2\" or a table { version = \"^1.2\", functions = [\"…\"], optional = true }, got %s", typeName(v))
		}
		if ok && dep.Constraint != nil {
			out[name] = dep
		}
	}
	return out
}

// versionRange parses a semantic version range; it reports a problem and
// returns a nil constraint if s is not one.
func (d *decoder) versionRange(key, s string) (string, *semver.Constraints) {
	switch {
	case s == "":
		d.errorf(key, "empty version range (use \"*\" for any version)")
		return "", nil
	case len(s) > MaxRangeLen:
		d.errorf(key, "version range is too long (%d characters, at most %d)", len(s), MaxRangeLen)
		return "", nil
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		d.errorf(key, "%q is not a version range such as \"^1.2\", \"~1.2.3\" or \">= 1.2, < 2\" (%v)", s, err)
		return "", nil
	}
	return s, c
}

// functions checks a dependency's list of function names.
func (d *decoder) functions(key string, list []string) ([]string, bool) {
	if len(list) == 0 {
		d.errorf(key, "must name at least one function (omit it to call any function)")
		return nil, false
	}
	ok := true
	out := make([]string, 0, len(list))
	for i, s := range list {
		switch err := ValidateExportName(s); {
		case err != nil:
			d.errorf(elemPath(key, i), "%v", err)
			ok = false
		case contains(out, s):
			d.errorf(elemPath(key, i), "%q is listed twice", s)
			ok = false
		default:
			out = append(out, s)
		}
	}
	return out, ok
}

// sortedTableKeys returns the keys of t sorted.
func sortedTableKeys(t *table) []string {
	names := make([]string, 0, len(t.m))
	for name := range t.m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
