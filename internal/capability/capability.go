// Package capability resolves the capabilities a process actually gets.
//
// Orbital is deny-by-default: a guest starts with nothing — no files, no
// environment, no arguments, no clock, no randomness, no network — and
// receives a capability only when it is both requested by the module's
// manifest (orbital.toml) and granted by the operator or node policy (a
// Grant, built from command-line flags or node configuration). Neither side
// alone is enough, and anything that is granted but not requested is dropped.
//
// Resolve applies these rules:
//
//   - No manifest: the module gets exactly the grant — stdio, directories,
//     environment, arguments, clock and randomness as granted — and the limits
//     are the grant's ceilings, with DefaultLimits for fields left zero. The
//     operator is then explicitly choosing what an unknown module receives.
//
//   - File system: each requested guest path is satisfied only by a granted
//     Dir with exactly the same guest path (a grant of a parent directory does
//     not count). Access is read-only if either side says read-only. A
//     non-optional request without a matching grant is an error wrapping
//     ErrNotGranted that spells out the --dir flag to pass; an optional one is
//     skipped with a Note. Granted directories that were not requested are
//     dropped with a Note.
//
//   - Environment: a granted variable is passed only if its name matches one
//     of the manifest's env globs (path.Match); the others are dropped with a
//     Note. Requested variables that were not granted are simply absent.
//
//   - Arguments: passed only if the manifest sets args = true; if it does not
//     and arguments were given, Resolve fails with ErrNotGranted ("module does
//     not accept arguments").
//
//   - Clock and randomness: requested but not granted is an error wrapping
//     ErrNotGranted that names the flag (--clock, --random); granted but not
//     requested is dropped with a Note.
//
//   - Stdio: each of stdin, stdout and stderr is connected only if requested
//     and granted; a mismatch either way is a Note, never an error.
//
//   - Network (reserved, not enforced yet): the set holds the requested
//     endpoints that were also granted (exact string match); requested ones
//     that were not granted and granted ones that were not requested are
//     Notes.
//
//   - Calls to libraries: for each dependency in the manifest, the process
//     may call the functions both listed by the dependency (all when it
//     lists none) and granted by Grant.Calls ("*", "LIB", "LIB.*" or
//     "LIB.FUNCTION"; see ValidateCall), at the versions the dependency's
//     range accepts. A dependency that is not granted, or whose granted
//     functions do not meet the listed ones, is left out with a Note — never
//     an error, because a call that is not allowed is refused when it is
//     made, by Set.CallAllowed, with a message naming the grant to add.
//     Granted calls to libraries the manifest does not declare are dropped
//     with a Note. Without a manifest the module may call exactly the
//     libraries granted by name, at any version.
//
//   - Limits: for each field the effective value is the smaller of the
//     manifest's request and the grant's ceiling (DefaultLimits where the
//     grant field is zero); an unset value on one side means the other
//     side's value, and a zero deadline means none. If the manifest asks for
//     more than the ceiling it is lowered and a Note says so. Memory converts
//     from bytes to 64 KiB wasm pages.
//
// All problems that make a process impossible to start are reported
// together, joined with errors.Join, so an operator can fix them in one go.
package capability

import (
	"errors"
	"fmt"
	"net"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// ErrNotGranted is wrapped by Resolve's errors for capabilities the module
// needs but the operator did not grant, for arguments given to a module
// that does not accept them, and by Set.CallAllowed's errors.
var ErrNotGranted = errors.New("capability not granted")

// ErrInvalidGrant is wrapped by errors about a malformed Grant (a relative or
// unclean guest path, the same guest path granted twice, a bad variable
// name, a limit out of range, a malformed calls entry) and by ParseDirFlag,
// ParseEnvFlag, ParseCallFlag, ValidateCall and MemoryPages. It wraps
// api.ErrInvalid.
var ErrInvalidGrant = fmt.Errorf("%w grant", api.ErrInvalid)

// PageSize is the size of one wasm memory page.
const PageSize = manifest.PageSize

// MaxMemoryPages is the number of pages in the wasm32 address space (4 GiB).
const MaxMemoryPages = manifest.MaxMemory / PageSize

// Grant is what the operator or node policy allows (from CLI flags or node
// config).
type Grant struct {
	Dirs                  []Dir             // host directory -> guest path
	Env                   map[string]string // variables offered
	Args                  []string          // argv after the program name
	Stdin, Stdout, Stderr bool
	Clock, Random         bool
	Network               []string // reserved
	Limits                Limits   // node ceilings; zero fields mean DefaultLimits
	// Display is the largest surface the process may create (zero: no
	// display); Input grants its window's input events.
	Display Size
	Input   bool
	// Devices lists the devices (drivers, by name) the process may use:
	// call their functions, subscribe to their subjects NAME.>.
	Devices []string
	// Calls lists the library calls allowed: "*" (every declared
	// dependency), "LIB" or "LIB.*" (every function of LIB), "LIB.FUNCTION".
	Calls []string
}

// Size is a width and height in pixels.
type Size struct{ Width, Height int }

// Zero reports whether s is unset.
func (s Size) Zero() bool { return s.Width == 0 && s.Height == 0 }

// String is "WxH".
func (s Size) String() string { return fmt.Sprintf("%dx%d", s.Width, s.Height) }

// Dir maps a host directory to a guest path.
type Dir struct {
	Host     string // host directory
	Guest    string // absolute, clean guest path
	ReadOnly bool
}

// Limits bounds a process's resources.
type Limits struct {
	MemoryPages uint32        // 64 KiB wasm pages
	Deadline    time.Duration // CPU deadline per call into the guest; 0 = none
	OpenFiles   int
}

// DefaultLimits are the node ceilings used for Grant.Limits fields left zero.
var DefaultLimits = Limits{MemoryPages: 4096 /* 256 MiB */, Deadline: 0, OpenFiles: 64}

// Set is the effective capability set of one process.
type Set struct {
	Args                  []string // argv after the program name
	Env                   []string // "K=V", sorted
	Stdin, Stdout, Stderr bool
	Clock, Random         bool
	Dirs                  []Dir
	Network               []string // reserved, not enforced yet
	Limits                Limits
	// Display is the largest surface the process may create; zero: the
	// process has no display. Input: its window receives input events.
	Display Size
	Input   bool
	// Devices are the devices the process may use, sorted.
	Devices []string
	// Calls are the libraries the process may call, sorted by library; see
	// CallAllowed.
	Calls []CallGrant
	// Notes are human-readable remarks: grants ignored because they were not
	// requested, optional requests and calls that were not granted, lowered
	// limits.
	Notes []string

	caller *manifest.Manifest // for CallAllowed's messages; nil without a manifest
}

// Resolve computes the capability set of a process running the module
// described by m (nil when the module has no manifest) under grant g. See
// the package documentation for the rules. The error, if any, wraps
// ErrNotGranted or ErrInvalidGrant.
func Resolve(m *manifest.Manifest, g Grant) (Set, error) {
	if err := validateGrant(g); err != nil {
		return Set{}, err
	}
	ceiling := g.Limits.withDefaults()
	if m == nil {
		calls, notes := callsWithoutManifest(g.Calls)
		return Set{
			Args:    clone(g.Args),
			Env:     envList(g.Env, nil),
			Stdin:   g.Stdin,
			Stdout:  g.Stdout,
			Stderr:  g.Stderr,
			Clock:   g.Clock,
			Random:  g.Random,
			Dirs:    clone(g.Dirs),
			Network: clone(g.Network),
			Display: g.Display,
			Input:   g.Input,
			Devices: sortedClone(g.Devices),
			Limits:  ceiling,
			Calls:   calls,
			Notes:   notes,
		}, nil
	}

	r := resolver{m: m, c: m.Capabilities}
	var s Set
	s.Dirs = r.dirs(g.Dirs)
	s.Env = r.env(g.Env)
	if len(g.Args) > 0 {
		if r.c.Args {
			s.Args = clone(g.Args)
		} else {
			given := fmt.Sprintf("%d arguments were given", len(g.Args))
			if len(g.Args) == 1 {
				given = "1 argument was given"
			}
			r.deny("module %q does not accept arguments (its manifest does not set capabilities.args = true), but %s", m.Name, given)
		}
	}
	s.Clock = r.flag("the clock", r.c.Clock, g.Clock, "--clock")
	s.Random = r.flag("cryptographic randomness", r.c.Random, g.Random, "--random")
	s.Stdin = r.stdio("stdin", r.c.Stdin, g.Stdin)
	s.Stdout = r.stdio("stdout", r.c.Stdout, g.Stdout)
	s.Stderr = r.stdio("stderr", r.c.Stderr, g.Stderr)
	s.Network = r.network(g.Network)
	s.Display = r.display(g.Display)
	s.Input = r.flag("input events", r.c.Input, g.Input, "--input")
	s.Devices = r.devices(g.Devices)
	s.Limits = r.limits(m.Limits, ceiling)
	s.Calls = r.calls(g.Calls)
	s.caller = m
	s.Notes = r.notes
	if len(r.errs) > 0 {
		return Set{}, errors.Join(r.errs...)
	}
	return s, nil
}

type resolver struct {
	m     *manifest.Manifest
	c     manifest.Capabilities
	notes []string
	errs  []error
}

func (r *resolver) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *resolver) deny(format string, args ...any) {
	r.errs = append(r.errs, &notGrantedError{fmt.Sprintf(format, args...)})
}

// notGrantedError carries a self-explanatory message and wraps ErrNotGranted
// without repeating its text.
type notGrantedError struct{ msg string }

func (e *notGrantedError) Error() string { return e.msg }
func (e *notGrantedError) Unwrap() error { return ErrNotGranted }

func (r *resolver) dirs(granted []Dir) []Dir {
	byGuest := make(map[string]Dir, len(granted))
	for _, d := range granted {
		byGuest[d.Guest] = d
	}
	var out []Dir
	requested := map[string]bool{}
	for _, req := range r.c.FS {
		requested[req.Path] = true
		access := accessString(req.ReadOnly)
		d, ok := byGuest[req.Path]
		if !ok {
			if req.Optional {
				r.note("optional file-system area %s (%s) was not granted; the module runs without it", req.Path, access)
			} else {
				r.deny("module %q requests file-system area %s (%s) which was not granted (grant it with --dir HOSTDIR:%s:%s)", r.m.Name, req.Path, access, req.Path, access)
			}
			continue
		}
		if d.ReadOnly && !req.ReadOnly {
			r.note("file-system area %s is requested read-write but granted read-only; it is mounted read-only", req.Path)
		}
		out = append(out, Dir{Host: d.Host, Guest: req.Path, ReadOnly: d.ReadOnly || req.ReadOnly})
	}
	for _, d := range granted {
		if !requested[d.Guest] {
			r.note("granted directory %s -> %s is ignored: the module does not request %s", d.Host, d.Guest, d.Guest)
		}
	}
	return out
}

func (r *resolver) env(granted map[string]string) []string {
	var dropped []string
	list := envList(granted, func(name string) bool {
		for _, glob := range r.c.Env {
			if ok, _ := path.Match(glob, name); ok {
				return true
			}
		}
		dropped = append(dropped, name)
		return false
	})
	if len(dropped) > 0 {
		r.note("environment variables not requested by the module are ignored: %s", strings.Join(dropped, ", "))
	}
	return list
}

func (r *resolver) flag(what string, requested, granted bool, flag string) bool {
	switch {
	case requested && !granted:
		r.deny("module %q requests %s which was not granted (grant it with %s)", r.m.Name, what, flag)
	case granted && !requested:
		r.note("%s is ignored: the module does not request %s", flag, what)
	}
	return requested && granted
}

// display resolves the surface size: the smaller of the module's max and
// the grant, refused when the grant is below the module's min.
func (r *resolver) display(granted Size) Size {
	req := r.c.Display
	switch {
	case req == nil:
		if !granted.Zero() {
			r.note("--display %s is ignored: the module does not request a display", granted)
		}
		return Size{}
	case granted.Zero() && req.Optional:
		r.note("the module's optional display was not granted (--display WxH); it runs without one")
		return Size{}
	case granted.Zero():
		r.deny("module %q requests a display (up to %dx%d) which was not granted (grant it with --display WxH)", r.m.Name, req.MaxWidth, req.MaxHeight)
		return Size{}
	case granted.Width < req.MinWidth || granted.Height < req.MinHeight:
		r.deny("module %q needs a display of at least %dx%d, granted %s", r.m.Name, req.MinWidth, req.MinHeight, granted)
		return Size{}
	}
	out := Size{min(req.MaxWidth, granted.Width), min(req.MaxHeight, granted.Height)}
	if out != (Size{req.MaxWidth, req.MaxHeight}) {
		r.note("display lowered from %dx%d to %s by the grant", req.MaxWidth, req.MaxHeight, out)
	}
	return out
}

// devices resolves the devices: each requested one must be granted.
func (r *resolver) devices(granted []string) []string {
	var out []string
	for _, d := range r.c.Devices {
		if contains(granted, d) {
			out = append(out, d)
		} else {
			r.deny("module %q uses device %q which was not granted (grant it with devices = [%q] in its node config)", r.m.Name, d, d)
		}
	}
	for _, d := range granted {
		if !contains(r.c.Devices, d) {
			r.note("device %q is ignored: the module does not request it", d)
		}
	}
	sort.Strings(out)
	return out
}

func sortedClone(s []string) []string {
	out := clone(s)
	sort.Strings(out)
	return out
}

func (r *resolver) stdio(name string, requested, granted bool) bool {
	switch {
	case requested && !granted:
		r.note("the module requests %s which was not granted; it is not connected", name)
	case granted && !requested:
		r.note("%s is not connected: the module does not request it", name)
	}
	return requested && granted
}

func (r *resolver) network(granted []string) []string {
	var out []string
	add := func(a string) {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	used := map[string]bool{}
	for _, req := range r.c.Network {
		covered := false
		for _, g := range granted {
			if n, ok := intersectNet(req, g); ok {
				add(n)
				used[g], covered = true, true
			}
		}
		if !covered {
			r.note("network address %s is requested but not granted (grant it with --net %s or net in the node config); its sockets are refused", req, req)
		}
	}
	for _, g := range granted {
		if !used[g] {
			r.note("granted network address %s is ignored: the module does not request it", g)
		}
	}
	return out
}

// NetSchemes are the network addresses Orbital grants sockets for:
// "tcp://HOST:PORT" to connect, "tcp-listen://HOST:PORT" to listen.
var NetSchemes = []string{"tcp", "tcp-listen"}

// ValidateNet checks a network grant: "tcp://HOST:PORT" (connect) or
// "tcp-listen://HOST:PORT" (listen), HOST or PORT possibly "*".
func ValidateNet(s string) error {
	if _, _, _, ok := splitNet(s); !ok {
		return fmt.Errorf("%w: network %q: want tcp://HOST:PORT (connect) or tcp-listen://HOST:PORT (listen), HOST or PORT may be *", ErrInvalidGrant, s)
	}
	return nil
}

// splitNet splits "SCHEME://HOST:PORT" of a scheme Orbital grants.
func splitNet(s string) (scheme, host, port string, ok bool) {
	scheme, rest, found := strings.Cut(s, "://")
	if !found || !contains(NetSchemes, scheme) {
		return "", "", "", false
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" || port == "" {
		return "", "", "", false
	}
	return scheme, host, port, true
}

// intersectNet is the address both a request and a grant allow ("*" is
// any host or port), if any.
func intersectNet(req, grant string) (string, bool) {
	rs, rh, rp, ok1 := splitNet(req)
	gs, gh, gp, ok2 := splitNet(grant)
	if !ok1 || !ok2 || rs != gs {
		return "", false
	}
	pick := func(a, b string) (string, bool) {
		switch {
		case a == "*":
			return b, true
		case b == "*" || strings.EqualFold(a, b):
			return a, true
		}
		return "", false
	}
	h, okh := pick(rh, gh)
	p, okp := pick(rp, gp)
	if !okh || !okp {
		return "", false
	}
	return rs + "://" + net.JoinHostPort(h, p), true
}

func (r *resolver) limits(req manifest.Limits, ceiling Limits) Limits {
	eff := ceiling
	if req.MemoryBytes != 0 {
		pages := uint32(req.MemoryBytes / PageSize) // the manifest guarantees a page multiple <= 4 GiB
		if pages > ceiling.MemoryPages {
			r.note("memory limit lowered from the requested %s to the node ceiling of %s",
				manifest.FormatSize(req.MemoryBytes), manifest.FormatSize(uint64(ceiling.MemoryPages)*PageSize))
		} else {
			eff.MemoryPages = pages
		}
	}
	if req.Deadline != 0 {
		if ceiling.Deadline != 0 && req.Deadline > ceiling.Deadline {
			r.note("deadline lowered from the requested %s to the node ceiling of %s", req.Deadline, ceiling.Deadline)
		} else {
			eff.Deadline = req.Deadline
		}
	}
	if req.OpenFiles != 0 {
		if req.OpenFiles > ceiling.OpenFiles {
			r.note("open-file limit lowered from the requested %d to the node ceiling of %d", req.OpenFiles, ceiling.OpenFiles)
		} else {
			eff.OpenFiles = req.OpenFiles
		}
	}
	return eff
}

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultLimits.MemoryPages
	}
	if l.Deadline == 0 {
		l.Deadline = DefaultLimits.Deadline
	}
	if l.OpenFiles == 0 {
		l.OpenFiles = DefaultLimits.OpenFiles
	}
	return l
}

func validateGrant(g Grant) error {
	for _, n := range g.Network {
		if err := ValidateNet(n); err != nil {
			return err
		}
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidGrant}, args...)...))
	}
	seen := map[string]string{}
	for _, d := range g.Dirs {
		if d.Host == "" {
			bad("directory granted at %s has no host path", d.Guest)
		}
		if err := checkGuest(d.Guest); err != nil {
			bad("directory %s: %v", d.Host, err)
			continue
		}
		if other, dup := seen[d.Guest]; dup {
			bad("guest path %s is granted twice (%s and %s)", d.Guest, other, d.Host)
		}
		seen[d.Guest] = d.Host
	}
	for _, k := range sortedKeys(g.Env) {
		if err := checkEnvName(k); err != nil {
			bad("%v", err)
		}
	}
	for _, d := range g.Devices {
		if err := manifest.ValidateDeviceName(d); err != nil {
			bad("devices: %v", err)
		}
	}
	for _, c := range g.Calls {
		if _, err := parseCall(c); err != nil {
			bad("calls: %v", err)
		}
	}
	if g.Limits.MemoryPages > MaxMemoryPages {
		bad("memory ceiling of %d pages exceeds the wasm32 maximum of %d", g.Limits.MemoryPages, MaxMemoryPages)
	}
	if g.Limits.Deadline < 0 {
		bad("negative deadline %s", g.Limits.Deadline)
	}
	if g.Limits.OpenFiles < 0 {
		bad("negative open-file limit %d", g.Limits.OpenFiles)
	}
	return errors.Join(errs...)
}

func checkGuest(p string) error {
	if err := manifest.ValidGuestPath(p); err != nil {
		return fmt.Errorf("guest path %v", err)
	}
	return nil
}

func checkEnvName(k string) error {
	if k == "" || strings.ContainsAny(k, "=\x00") {
		return fmt.Errorf("invalid environment variable name %q", k)
	}
	return nil
}

// envList returns "K=V" for the variables of env that keep accepts (all if
// keep is nil), sorted by name.
func envList(env map[string]string, keep func(string) bool) []string {
	var out []string
	for _, k := range sortedKeys(env) {
		if keep == nil || keep(k) {
			out = append(out, k+"="+env[k])
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func accessString(readOnly bool) string {
	if readOnly {
		return "ro"
	}
	return "rw"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clone[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T(nil), s...)
}

// ParseDirFlag parses the value of --dir: "HOST:GUEST[:ro|rw]". HOST may be
// relative and is made absolute; GUEST must be absolute and is cleaned.
// Access defaults to rw.
func ParseDirFlag(s string) (Dir, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Dir{}, fmt.Errorf("%w: --dir %q: want HOST:GUEST[:ro|rw]", ErrInvalidGrant, s)
	}
	d := Dir{Host: parts[0], Guest: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			d.ReadOnly = true
		case "rw":
		default:
			return Dir{}, fmt.Errorf("%w: --dir %q: access must be ro or rw, got %q", ErrInvalidGrant, s, parts[2])
		}
	}
	if d.Host == "" {
		return Dir{}, fmt.Errorf("%w: --dir %q: empty host directory", ErrInvalidGrant, s)
	}
	if d.Guest != "" && d.Guest != "." {
		d.Guest = path.Clean(d.Guest)
	}
	if err := manifest.ValidGuestPath(d.Guest); err != nil {
		return Dir{}, fmt.Errorf("%w: --dir %q: guest path %v", ErrInvalidGrant, s, err)
	}
	abs, err := filepath.Abs(d.Host)
	if err != nil {
		return Dir{}, fmt.Errorf("%w: --dir %q: %v", ErrInvalidGrant, s, err)
	}
	d.Host = abs
	return d, nil
}

// ParseEnvFlag parses the value of --env: "K=V". V may be empty and may
// contain '='.
func ParseEnvFlag(s string) (k, v string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("%w: --env %q: want NAME=VALUE", ErrInvalidGrant, s)
	}
	if err := checkEnvName(k); err != nil {
		return "", "", fmt.Errorf("%w: --env %q: %v", ErrInvalidGrant, s, err)
	}
	if strings.ContainsRune(v, 0) {
		return "", "", fmt.Errorf("%w: --env %q: value contains NUL", ErrInvalidGrant, s)
	}
	return k, v, nil
}

// ParseSize parses a size such as "256MiB"; see manifest.ParseSize.
func ParseSize(s string) (uint64, error) { return manifest.ParseSize(s) }

// MemoryPages converts a size in bytes (as from ParseSize) to wasm pages. It
// must be a positive multiple of PageSize no larger than 4 GiB.
func MemoryPages(bytes uint64) (uint32, error) {
	switch {
	case bytes == 0:
		return 0, fmt.Errorf("%w: memory size must be greater than zero", ErrInvalidGrant)
	case bytes%PageSize != 0:
		return 0, fmt.Errorf("%w: memory size %s is not a multiple of the 64KiB wasm page size", ErrInvalidGrant, manifest.FormatSize(bytes))
	case bytes/PageSize > MaxMemoryPages:
		return 0, fmt.Errorf("%w: memory size %s exceeds the wasm32 maximum of 4GiB", ErrInvalidGrant, manifest.FormatSize(bytes))
	}
	return uint32(bytes / PageSize), nil
}
