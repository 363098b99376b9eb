package capability

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// CallGrant is a process's permission to call one library: the result of
// intersecting a manifest dependency with the operator's calls grant.
type CallGrant struct {
	Library    string              // the library's module name
	Constraint *semver.Constraints // library versions the caller accepts; nil = any
	Range      string              // Constraint as written in the manifest; "" = any
	Functions  []string            // the functions that may be called, sorted; nil = all
	Optional   bool                // the caller declared the dependency optional
}

// Allows reports whether the grant covers function fn.
func (c CallGrant) Allows(fn string) bool {
	return c.Functions == nil || slices.Contains(c.Functions, fn)
}

// callEntry is one parsed entry of Grant.Calls.
type callEntry struct {
	lib string // "*" for every declared dependency
	fn  string // "" for every function
}

// parseCall parses an entry of Grant.Calls:
//
//	"*"        every dependency the manifest declares, every function
//	"LIB.FN"   function FN of LIB: the part after the last '.' is FN when it
//	           is a function name and the rest is a module name
//	"LIB"      otherwise, every function of LIB ("vision", "example.com/kv")
//	"LIB.*"    every function of LIB, for any LIB ("demo.echo.*")
//
// So "demo.echo" means function echo of library demo; the whole library
// demo.echo is "demo.echo.*".
func parseCall(s string) (callEntry, error) {
	if s == "*" {
		return callEntry{lib: "*"}, nil
	}
	if lib, ok := strings.CutSuffix(s, ".*"); ok {
		if err := manifest.ValidateName(lib); err != nil {
			return callEntry{}, fmt.Errorf("%q: library %v", s, err)
		}
		return callEntry{lib: lib}, nil
	}
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		lib, fn := s[:i], s[i+1:]
		if manifest.ValidateName(lib) == nil && manifest.ValidateExportName(fn) == nil {
			return callEntry{lib: lib, fn: fn}, nil
		}
	}
	if manifest.ValidateName(s) == nil {
		return callEntry{lib: s}, nil
	}
	return callEntry{}, fmt.Errorf("%q is not LIB, LIB.FUNCTION, LIB.* or * (LIB a module name such as \"vision\" or \"example.com/kv\", FUNCTION a function name such as \"blur\")", s)
}

// ValidateCall checks an entry of Grant.Calls: "*" (every declared
// dependency), "LIB" or "LIB.*" (every function of library LIB) or
// "LIB.FUNCTION". The part after the last '.' is read as a function name
// when it is one, so a library whose name contains a '.' is granted whole
// with "LIB.*". Errors wrap ErrInvalidGrant.
func ValidateCall(entry string) error {
	if _, err := parseCall(entry); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidGrant, err)
	}
	return nil
}

// ParseCallFlag parses the value of --call (see ValidateCall) and returns
// the entry for Grant.Calls. Errors wrap ErrInvalidGrant.
func ParseCallFlag(s string) (string, error) {
	if _, err := parseCall(s); err != nil {
		return "", fmt.Errorf("%w: --call %v", ErrInvalidGrant, err)
	}
	return s, nil
}

// libEntry is the calls entry that grants every function of lib.
func libEntry(lib string) string {
	if e, err := parseCall(lib); err == nil && e.fn == "" {
		return lib
	}
	return lib + ".*"
}

// grantedCalls is Grant.Calls grouped by library.
type grantedCalls struct {
	all   bool                   // "*"
	byLib map[string]*libGranted // library -> what is granted
}

type libGranted struct {
	all bool     // every function
	fns []string // else these, sorted
}

func groupCalls(entries []string) grantedCalls {
	g := grantedCalls{byLib: map[string]*libGranted{}}
	for _, s := range entries {
		e, err := parseCall(s)
		if err != nil { // validateGrant has refused it already
			continue
		}
		if e.lib == "*" {
			g.all = true
			continue
		}
		lg := g.byLib[e.lib]
		if lg == nil {
			lg = &libGranted{}
			g.byLib[e.lib] = lg
		}
		if e.fn == "" {
			lg.all = true
		} else if !slices.Contains(lg.fns, e.fn) {
			lg.fns = append(lg.fns, e.fn)
		}
	}
	for _, lg := range g.byLib {
		slices.Sort(lg.fns)
	}
	return g
}

// callsWithoutManifest: a module without a manifest declares no
// dependencies, so it gets exactly the libraries granted by name, at any
// version.
func callsWithoutManifest(entries []string) ([]CallGrant, []string) {
	g := groupCalls(entries)
	var out []CallGrant
	for _, lib := range sortedKeys(g.byLib) {
		c := CallGrant{Library: lib}
		if lg := g.byLib[lib]; !lg.all {
			c.Functions = lg.fns
		}
		out = append(out, c)
	}
	var notes []string
	if g.all {
		notes = append(notes, `calls = ["*"] grants nothing here: the module has no manifest, so it declares no dependencies`)
	}
	return out, notes
}

// calls intersects the manifest's dependencies with the granted calls.
// Nothing here is an error: a call that is not granted is refused when it is
// made (see Set.CallAllowed), and the notes say what to grant.
func (r *resolver) calls(entries []string) []CallGrant {
	g := groupCalls(entries)
	var out []CallGrant
	for _, dep := range r.m.DependencyList() {
		lg := g.byLib[dep.Name]
		if lg == nil && !g.all {
			e := libEntry(dep.Name)
			if dep.Optional {
				r.note("optional dependency %s was not granted; the module runs without it (grant with calls = [%q] or --call %s)", dep.Name, e, e)
			} else {
				r.note("calls to %s not granted (grant with calls = [%q] or --call %s)", dep.Name, e, e)
			}
			continue
		}
		var granted []string // nil = all
		if !g.all && !lg.all {
			granted = lg.fns
			for _, fn := range granted {
				if dep.Functions != nil && !slices.Contains(dep.Functions, fn) {
					r.note("granted call %s.%s is ignored: the module does not list %s in dependencies.%s.functions", dep.Name, fn, fn, quoteKey(dep.Name))
				}
			}
		}
		fns := intersect(dep.Functions, granted)
		if fns != nil && len(fns) == 0 {
			r.note("calls to %s are left out: none of the functions the module calls (%s) is granted", dep.Name, strings.Join(dep.Functions, ", "))
			continue
		}
		if dep.Functions != nil && granted != nil {
			for _, fn := range dep.Functions {
				if !slices.Contains(granted, fn) {
					e := dep.Name + "." + fn
					r.note("call %s not granted (grant with calls = [%q] or --call %s)", e, e, e)
				}
			}
		}
		out = append(out, CallGrant{Library: dep.Name, Constraint: dep.Constraint, Range: dep.Range, Functions: fns, Optional: dep.Optional})
	}
	for _, lib := range sortedKeys(g.byLib) {
		if r.declares(lib) {
			continue
		}
		hint := ""
		for _, fn := range g.byLib[lib].fns {
			if whole := lib + "." + fn; r.declares(whole) {
				hint = fmt.Sprintf(" (%s.%s names function %s of library %s; to grant library %s write %q)", lib, fn, fn, lib, whole, whole+".*")
				break
			}
		}
		r.note("granted calls to %s are ignored: %s is not a declared dependency of %q%s", lib, lib, r.m.Name, hint)
	}
	return out
}

func (r *resolver) declares(lib string) bool {
	_, ok := r.m.Dependencies[lib]
	return ok
}

// intersect returns the functions in both lists, sorted, where nil means
// all functions. The result is nil only if both are nil.
func intersect(a, b []string) []string {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return slices.Clone(b)
	case b == nil:
		return slices.Sorted(slices.Values(a))
	}
	out := []string{}
	for _, fn := range a {
		if slices.Contains(b, fn) {
			out = append(out, fn)
		}
	}
	slices.Sort(out)
	return out
}

// quoteKey renders a dependency name as a TOML key.
func quoteKey(name string) string {
	if strings.ContainsAny(name, "./") {
		return strconv.Quote(name)
	}
	return name
}

// CallAllowed reports whether the process may call function fn of library
// lib, returning the grant that allows it. The error says exactly what is
// missing, e.g.
//
//	vision.blur: not a declared dependency of "shrink"
//	vision.blur: not granted; grant with --call vision.blur (or calls = ["vision.blur"] in the node config)
//
// It wraps api.ErrPermissionDenied and ErrNotGranted; its message does not
// repeat their text, so callers add the class (as Resolve's callers do).
func (s Set) CallAllowed(lib, fn string) (CallGrant, error) {
	for _, c := range s.Calls {
		if c.Library == lib {
			if c.Allows(fn) {
				return c, nil
			}
			break
		}
	}
	if manifest.ValidateName(lib) != nil || manifest.ValidateExportName(fn) != nil {
		return CallGrant{}, &callError{fmt.Sprintf("%s.%s: not a valid library and function name", strconv.Quote(lib), strconv.Quote(fn))}
	}
	call := lib + "." + fn
	if s.caller != nil {
		dep, declared := s.caller.Dependencies[lib]
		switch {
		case !declared:
			return CallGrant{}, &callError{fmt.Sprintf("%s: not a declared dependency of %q (add %s to [dependencies] in its manifest)", call, s.caller.Name, lib)}
		case dep.Functions != nil && !slices.Contains(dep.Functions, fn):
			return CallGrant{}, &callError{fmt.Sprintf("%s: %s is not among the functions %q declares for %s (dependencies.%s.functions)", call, fn, s.caller.Name, lib, quoteKey(lib))}
		}
	}
	return CallGrant{}, &callError{fmt.Sprintf("%s: not granted; grant with --call %s (or calls = [%q] in the node config)", call, call, call)}
}

// callError is CallAllowed's error: a self-explanatory message wrapping
// api.ErrPermissionDenied and ErrNotGranted.
type callError struct{ msg string }

func (e *callError) Error() string   { return e.msg }
func (e *callError) Unwrap() []error { return []error{api.ErrPermissionDenied, ErrNotGranted} }
