package manifest

import (
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/semver/v3"
)

// Parse parses and validates a manifest. source names the file in error
// messages and is stored in Manifest.Source; "orbital.toml" is used when it
// is empty. All problems found are reported, ordered by line: one is returned
// as an *Error, several are joined with errors.Join. Every error wraps
// ErrInvalid.
func Parse(data []byte, source string) (*Manifest, error) {
	if source == "" {
		source = "orbital.toml"
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Source: source, Line: 1, Msg: fmt.Sprintf("manifest is too large (%d bytes, at most %s)", len(data), FormatSize(MaxFileSize))}
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		e := &Error{Source: source, Line: 1, Msg: "invalid TOML: " + err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.Msg = "invalid TOML: " + pe.Message
			if pe.Position.Line > 0 {
				e.Line = pe.Position.Line
			}
		}
		e.Msg = oneLine.Replace(e.Msg)
		return nil, e
	}
	d := &decoder{source: source, pos: scanPositions(string(data))}
	m := d.manifest(raw)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		if len(d.errs) == 1 {
			return nil, d.errs[0]
		}
		errs := make([]error, len(d.errs))
		for i, e := range d.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	m.Source = source
	return m, nil
}

// oneLine keeps the library's messages (which may quote a newline it choked
// on) on a single line.
var oneLine = strings.NewReplacer("\r", `\r`, "\n", `\n`)

type decoder struct {
	source string
	pos    positions
	errs   []*Error
}

func (d *decoder) errorf(key, format string, args ...any) {
	d.errs = append(d.errs, &Error{Source: d.source, Line: d.pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// table tracks the keys of one TOML table that the schema consumed, so that
// the remaining ones can be reported as unknown.
type table struct {
	d     *decoder
	path  string
	m     map[string]any
	known []string
}

func (d *decoder) table(path string, m map[string]any) *table {
	return &table{d: d, path: path, m: m}
}

func (t *table) key(k string) string { return childPath(t.path, k) }

func (t *table) get(k string) (any, bool) {
	t.known = append(t.known, k)
	v, ok := t.m[k]
	return v, ok
}

func (t *table) has(k string) bool {
	_, ok := t.m[k]
	return ok
}

// require reports k as missing if it is absent.
func (t *table) require(k string) {
	if !t.has(k) {
		t.d.errorf(t.key(k), "missing (required)")
	}
}

// finish reports every key of the table the schema did not ask for.
func (t *table) finish() {
	var unknown []string
	for k := range t.m {
		if !contains(t.known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Slice(unknown, func(i, j int) bool {
		li, lj := t.d.pos.line(t.key(unknown[i])), t.d.pos.line(t.key(unknown[j]))
		if li != lj {
			return li < lj
		}
		return unknown[i] < unknown[j]
	})
	for _, k := range unknown {
		t.d.errorf(t.key(k), "unknown key (allowed keys: %s)", strings.Join(t.known, ", "))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str returns the string at k; ok is false if k is absent or not a string
// (which is reported).
func (t *table) str(k string) (s string, ok bool) {
	v, present := t.get(k)
	if !present {
		return "", false
	}
	if s, ok = v.(string); !ok {
		t.d.errorf(t.key(k), "must be a string, got %s", typeName(v))
	}
	return s, ok
}

func (t *table) boolean(k string, def bool) bool {
	v, present := t.get(k)
	if !present {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		t.d.errorf(t.key(k), "must be true or false, got %s", typeName(v))
		return def
	}
	return b
}

func (t *table) integer(k string) (int64, bool) {
	v, present := t.get(k)
	if !present {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.d.errorf(t.key(k), "must be an integer, got %s", typeName(v))
	}
	return n, ok
}

// strings returns the array of strings at k. Every element that is not a
// string is reported, and then ok is false.
func (t *table) strings(k string) (list []string, ok bool) {
	v, present := t.get(k)
	if !present {
		return nil, false
	}
	arr, isArr := v.([]any)
	if !isArr {
		t.d.errorf(t.key(k), "must be an array of strings, got %s", typeName(v))
		return nil, false
	}
	ok = true
	list = make([]string, len(arr))
	for i, e := range arr {
		s, isStr := e.(string)
		if !isStr {
			t.d.errorf(elemPath(t.key(k), i), "must be a string, got %s", typeName(e))
			ok = false
		}
		list[i] = s
	}
	return list, ok
}

// sub returns the table at k, or nil if it is absent or not a table.
func (t *table) sub(k string) *table {
	v, present := t.get(k)
	if !present {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.d.errorf(t.key(k), "must be a table, got %s", typeName(v))
		return nil
	}
	return t.d.table(t.key(k), m)
}

// tables returns the array of tables at k ([[k]] or k = [{…}, …]).
func (t *table) tables(k string) ([]*table, bool) {
	v, present := t.get(k)
	if !present {
		return nil, false
	}
	var maps []map[string]any
	switch v := v.(type) {
	case []map[string]any:
		maps = v
	case []any:
		ok := true
		for i, e := range v {
			m, isMap := e.(map[string]any)
			if !isMap {
				t.d.errorf(elemPath(t.key(k), i), "must be a table, got %s", typeName(e))
				ok = false
			}
			maps = append(maps, m)
		}
		if !ok {
			return nil, false
		}
	default:
		t.d.errorf(t.key(k), "must be an array of tables ([[%s]]), got %s", t.key(k), typeName(v))
		return nil, false
	}
	out := make([]*table, len(maps))
	for i, m := range maps {
		out[i] = t.d.table(elemPath(t.key(k), i), m)
	}
	return out, true
}

// oneOf reports whether s is one of allowed, reporting it otherwise.
func (t *table) oneOf(k, s string, allowed ...string) bool {
	if contains(allowed, s) {
		return true
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	var want string
	switch len(quoted) {
	case 1:
		want = quoted[0]
	case 2:
		want = quoted[0] + " or " + quoted[1]
	default:
		want = "one of " + strings.Join(quoted, ", ")
	}
	t.d.errorf(t.key(k), "must be %s, got %q", want, s)
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "date-time"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

var (
	nameRE        = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(/[a-z][a-z0-9-]*)?$`)
	ioNameRE      = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	identRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostLabelRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	allKinds      = []string{string(KindApp), string(KindLibrary), string(KindDriver), string(KindService)}
	netSchemes    = []string{"tcp", "tcp-listen", "udp", "http", "https"}
	maxIdentLen   = 256
	maxPatternLen = 256
)

func (d *decoder) manifest(raw map[string]any) *Manifest {
	m := &Manifest{}
	root := d.table("", raw)

	root.require("name")
	if s, ok := root.str("name"); ok {
		if err := ValidateName(s); err != nil {
			d.errorf("name", "%v", err)
		} else {
			m.Name = s
		}
	}

	root.require("version")
	if s, ok := root.str("version"); ok {
		v, err := semver.StrictNewVersion(s)
		if err != nil {
			d.errorf("version", "%q is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (%s)", s, versionProblem(err))
		} else {
			m.Version = v
		}
	}

	root.require("kind")
	if s, ok := root.str("kind"); ok && root.oneOf("kind", s, allKinds...) {
		m.Kind = Kind(s)
	}

	m.Description, _ = root.str("description")
	m.Entry = d.entry(root.sub("entry"))
	m.IO = d.io(root.sub("io"))
	m.Capabilities = d.capabilities(root.sub("capabilities"))
	m.Limits = d.limits(root.sub("limits"))
	m.Bus = d.bus(root.sub("bus"))
	m.Triggers = d.triggers(root.sub("triggers"), m.Kind)
	d.library(root, m)
	root.finish()
	return m
}

// ValidateName checks a module name: lowercase letters, digits and '-' in
// dot-separated segments that start with a letter, optionally followed by
// one "/segment", at most MaxNameLen characters. The manifest's name and the
// keys of [dependencies] follow this rule.
func ValidateName(s string) error {
	switch {
	case len(s) > MaxNameLen:
		return fmt.Errorf("too long (%d characters, at most %d)", len(s), MaxNameLen)
	case !nameRE.MatchString(s):
		return fmt.Errorf("%q is not a valid module name: use lowercase letters, digits and '-' in dot-separated segments that start with a letter, optionally followed by one \"/segment\" (e.g. \"shrink\" or \"example.com/shrink\")", s)
	}
	return nil
}

func versionProblem(err error) string {
	switch {
	case errors.Is(err, semver.ErrInvalidCharacters):
		return "only digits are allowed in MAJOR, MINOR and PATCH; no \"v\" prefix"
	case errors.Is(err, semver.ErrSegmentStartsZero):
		return "numbers must not have leading zeros"
	case errors.Is(err, semver.ErrInvalidPrerelease):
		return "invalid pre-release"
	case errors.Is(err, semver.ErrInvalidMetadata):
		return "invalid build metadata"
	case errors.Is(err, semver.ErrVersionTooLong):
		return err.Error()
	case errors.Is(err, semver.ErrEmptyString):
		return "empty"
	case errors.Is(err, semver.ErrInvalidSemVer):
		return "need exactly three numbers"
	}
	return "invalid number"
}

func (d *decoder) entry(t *table) Entry {
	e := Entry{Type: EntryCommand}
	if t == nil {
		e.Start = "_start"
		return e
	}
	if s, ok := t.str("type"); ok {
		if t.oneOf("type", s, EntryCommand, EntryReactor) {
			e.Type = s
		} else {
			e.Type = ""
		}
	}
	ident := func(k, s string) bool {
		if len(s) > maxIdentLen || !identRE.MatchString(s) {
			d.errorf(k, "%q is not a valid export name (letters, digits and '_', not starting with a digit)", s)
			return false
		}
		return true
	}
	onlyFor := func(k, typ string) {
		if t.has(k) && e.Type != "" && e.Type != typ {
			d.errorf(t.key(k), "only allowed when entry.type is %q", typ)
		}
	}
	onlyFor("start", EntryCommand)
	onlyFor("init", EntryReactor)
	onlyFor("exports", EntryReactor)
	if s, ok := t.str("start"); ok && ident(t.key("start"), s) {
		e.Start = s
	}
	if s, ok := t.str("init"); ok && ident(t.key("init"), s) {
		e.Init = s
	}
	if list, ok := t.strings("exports"); ok {
		e.Exports = []string{}
		for i, s := range list {
			k := elemPath(t.key("exports"), i)
			switch {
			case !ident(k, s):
			case contains(e.Exports, s):
				d.errorf(k, "%q is listed twice", s)
			default:
				e.Exports = append(e.Exports, s)
			}
		}
	}
	if e.Type == EntryCommand && e.Start == "" && !t.has("start") {
		e.Start = "_start"
	}
	t.finish()
	return e
}

func (d *decoder) io(t *table) map[string]IO {
	if t == nil {
		return nil
	}
	names := make([]string, 0, len(t.m))
	for name := range t.m {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]IO, len(names))
	stdio := map[string]string{} // direction -> name bound to stdio
	for _, name := range names {
		key := t.key(name)
		if !ioNameRE.MatchString(name) {
			d.errorf(key, "%q is not a valid io name (lowercase letters, digits, '_' and '-', starting with a letter)", name)
		}
		st := t.sub(name)
		if st == nil {
			continue
		}
		io := IO{Name: name, Bind: BindStdio}
		st.require("type")
		if s, ok := st.str("type"); ok && st.oneOf("type", s, IOStream) {
			io.Type = s
		}
		if s, ok := st.str("direction"); ok {
			if st.oneOf("direction", s, DirectionIn, DirectionOut) {
				if (name == DirectionIn || name == DirectionOut) && s != name {
					d.errorf(st.key("direction"), "the io named %q must have direction %q", name, name)
				}
				io.Direction = s
			}
		} else if !st.has("direction") {
			if name == DirectionIn || name == DirectionOut {
				io.Direction = name
			} else {
				d.errorf(st.key("direction"), "missing (required unless the io is named \"in\" or \"out\")")
			}
		}
		if s, ok := st.str("bind"); ok {
			if st.oneOf("bind", s, BindStdio, BindFile) {
				io.Bind = s
			} else {
				io.Bind = ""
			}
		}
		io.Description, _ = st.str("description")
		st.finish()
		if io.Bind == BindStdio && io.Direction != "" {
			if other, taken := stdio[io.Direction]; taken {
				what := map[string]string{DirectionIn: "input may bind to stdin", DirectionOut: "output may bind to stdout"}[io.Direction]
				d.errorf(key, "only one %s; io.%s already does (use bind = \"file\")", what, quoteKey(other))
			} else {
				stdio[io.Direction] = name
			}
		}
		out[name] = io
	}
	return out
}

func (d *decoder) capabilities(t *table) Capabilities {
	c := Capabilities{Stdin: true, Stdout: true, Stderr: true}
	if t == nil {
		return c
	}
	c.Args = t.boolean("args", false)
	if list, ok := t.strings("env"); ok {
		c.Env = []string{}
		for i, p := range list {
			if err := validEnvGlob(p); err != nil {
				d.errorf(elemPath(t.key("env"), i), "%v", err)
				continue
			}
			c.Env = append(c.Env, p)
		}
	}
	c.Stdin = t.boolean("stdin", true)
	c.Stdout = t.boolean("stdout", true)
	c.Stderr = t.boolean("stderr", true)
	c.Clock = t.boolean("clock", false)
	c.Random = t.boolean("random", false)
	if list, ok := t.strings("network"); ok {
		c.Network = []string{}
		for i, s := range list {
			if err := validNetwork(s); err != nil {
				d.errorf(elemPath(t.key("network"), i), "%v", err)
				continue
			}
			c.Network = append(c.Network, s)
		}
	}
	if nt := t.sub("net"); nt != nil {
		// [capabilities.net] connect/listen = ["HOST:PORT"]: the same
		// requests as network's tcp:// and tcp-listen:// addresses.
		for _, kind := range []struct{ key, scheme string }{{"connect", "tcp"}, {"listen", "tcp-listen"}} {
			list, ok := nt.strings(kind.key)
			if !ok {
				continue
			}
			if c.Network == nil {
				c.Network = []string{}
			}
			for i, a := range list {
				u := kind.scheme + "://" + a
				if err := validNetwork(u); err != nil {
					d.errorf(elemPath(nt.key(kind.key), i), "%q: want HOST:PORT, PORT a number or *", a)
					continue
				}
				if !contains(c.Network, u) {
					c.Network = append(c.Network, u)
				}
			}
		}
		nt.finish()
	}
	c.Input = t.boolean("input", false)
	if list, ok := t.strings("devices"); ok {
		for i, dev := range list {
			switch {
			case !driverNameRE.MatchString(dev):
				d.errorf(elemPath(t.key("devices"), i), "%q is not a device name (a driver's name: lowercase letters, digits and '-', starting with a letter)", dev)
			case contains(c.Devices, dev):
				d.errorf(elemPath(t.key("devices"), i), "%q is listed twice", dev)
			default:
				c.Devices = append(c.Devices, dev)
			}
		}
	}
	if dt := t.sub("display"); dt != nil {
		c.Display = d.display(dt)
	}
	if fs, ok := t.tables("fs"); ok {
		c.FS = []FSRequest{}
		seen := map[string]string{} // guest path -> key of first request
		for _, ft := range fs {
			r, ok := d.fsRequest(ft)
			if !ok {
				continue
			}
			if first, dup := seen[r.Path]; dup {
				d.errorf(ft.key("path"), "%s is requested twice (also %s)", r.Path, first)
				continue
			}
			seen[r.Path] = ft.path
			c.FS = append(c.FS, r)
		}
	}
	t.finish()
	return c
}

// MaxDisplaySide is the largest surface side a manifest may ask for.
const MaxDisplaySide = 8192

// ParseDisplaySize parses "WxH" (a display size: 1..MaxDisplaySide each).
func ParseDisplaySize(s string) (w, h int, err error) {
	var rest string
	n, _ := fmt.Sscanf(s, "%dx%d%s", &w, &h, &rest)
	if n != 2 || w <= 0 || h <= 0 || w > MaxDisplaySide || h > MaxDisplaySide || fmt.Sprintf("%dx%d", w, h) != s {
		return 0, 0, fmt.Errorf("%q: want WIDTHxHEIGHT, each 1 to %d (\"640x480\")", s, MaxDisplaySide)
	}
	return w, h, nil
}

func (d *decoder) display(t *table) *DisplayRequest {
	r := &DisplayRequest{}
	t.require("max")
	if s, ok := t.str("max"); ok {
		w, h, err := ParseDisplaySize(s)
		if err != nil {
			d.errorf(t.key("max"), "%v", err)
		}
		r.MaxWidth, r.MaxHeight = w, h
	}
	if s, ok := t.str("min"); ok {
		w, h, err := ParseDisplaySize(s)
		switch {
		case err != nil:
			d.errorf(t.key("min"), "%v", err)
		case r.MaxWidth > 0 && (w > r.MaxWidth || h > r.MaxHeight):
			d.errorf(t.key("min"), "min %s is larger than max %dx%d", s, r.MaxWidth, r.MaxHeight)
		}
		r.MinWidth, r.MinHeight = w, h
	}
	r.Optional = t.boolean("optional", false)
	t.finish()
	return r
}

func (d *decoder) fsRequest(t *table) (FSRequest, bool) {
	var r FSRequest
	ok := true
	t.require("path")
	if p, good := t.str("path"); good {
		if err := validGuestPath(p); err != nil {
			d.errorf(t.key("path"), "%v", err)
			ok = false
		}
		r.Path = p
	} else {
		ok = false
	}
	t.require("access")
	if a, good := t.str("access"); good && t.oneOf("access", a, "ro", "rw") {
		r.ReadOnly = a == "ro"
	} else {
		ok = false
	}
	r.Optional = t.boolean("optional", false)
	t.finish()
	return r, ok
}

func (d *decoder) limits(t *table) Limits {
	var l Limits
	if t == nil {
		return l
	}
	if v, present := t.get("memory"); present {
		var (
			n   uint64
			err error
		)
		switch v := v.(type) {
		case string:
			n, err = ParseSize(v)
		case int64:
			if v < 0 {
				err = fmt.Errorf("must not be negative")
			}
			n = uint64(v)
		default:
			err = fmt.Errorf("must be a size string such as \"64MiB\" or an integer number of bytes, got %s", typeName(v))
		}
		switch {
		case err != nil:
			d.errorf(t.key("memory"), "%v", err)
		case n == 0:
			d.errorf(t.key("memory"), "must be greater than zero")
		case n > MaxMemory:
			d.errorf(t.key("memory"), "%s is more than the wasm32 maximum of 4GiB", FormatSize(n))
		case n%PageSize != 0:
			d.errorf(t.key("memory"), "%s is not a multiple of the 64KiB wasm page size", FormatSize(n))
		default:
			l.MemoryBytes = n
		}
	}
	if s, ok := t.str("deadline"); ok {
		dur, err := time.ParseDuration(s)
		switch {
		case err != nil:
			d.errorf(t.key("deadline"), "%q is not a duration such as \"500ms\" or \"5s\"", s)
		case dur <= 0:
			d.errorf(t.key("deadline"), "must be greater than zero, got %q", s)
		default:
			l.Deadline = dur
		}
	}
	if n, ok := t.integer("open_files"); ok {
		if n <= 0 || n > MaxOpenFiles {
			d.errorf(t.key("open_files"), "must be between 1 and %d, got %d", MaxOpenFiles, n)
		} else {
			l.OpenFiles = int(n)
		}
	}
	t.finish()
	return l
}

func validEnvGlob(p string) error {
	switch {
	case p == "":
		return errors.New("empty variable name pattern")
	case len(p) > maxPatternLen:
		return fmt.Errorf("variable name pattern is too long (%d bytes, at most %d)", len(p), maxPatternLen)
	case strings.ContainsAny(p, "=\x00"):
		return fmt.Errorf("%q: variable name patterns cannot contain '=' or NUL", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%q is not a valid glob pattern (path.Match syntax: *, ?, [a-z], \\x)", p)
	}
	return nil
}

// validGuestPath checks a guest path: see ValidGuestPath.
func validGuestPath(p string) error { return ValidGuestPath(p) }

// ValidGuestPath checks the name a directory is preopened under in the
// guest: an absolute clean path ("/data", "/"), or a relative clean name
// that does not climb ("fs-tests.dir", "data/in"), as wasmtime's
// --dir HOST::GUEST allows.
func ValidGuestPath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("%q is not a guest path (want /NAME or NAME)", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%q contains NUL", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean (did you mean %q?)", p, path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%q climbs out of the guest's name space", p)
	}
	return nil
}

// validNetwork checks "SCHEME://HOST:PORT" where PORT may be "*".
func validNetwork(s string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q %s (want SCHEME://HOST:PORT with SCHEME tcp, tcp-listen, udp, http or https and PORT a number or *)", s, why)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return bad("has no scheme")
	}
	if !contains(netSchemes, scheme) {
		return bad("has an unsupported scheme")
	}
	if strings.ContainsAny(rest, "/?#@") {
		return bad("must not have a path, query, fragment or user")
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return bad("needs a host and a port")
	}
	if !validHost(host) {
		return bad("has an invalid host")
	}
	if port != "*" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return bad("has an invalid port")
		}
	}
	return nil
}

func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if len(l) > 63 || !hostLabelRE.MatchString(l) {
			return false
		}
	}
	// A name whose last label is all digits would be a malformed IPv4 address.
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
