package manifest_test

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/manifest"
)

var (
	fuzzLineRE = regexp.MustCompile(`^fuzz\.toml:(\d+): \S`)
	fuzzNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*(/[a-z][a-z0-9-]*)?$`)
)

// FuzzParse checks that Parse never panics, that every error wraps
// ErrInvalid and starts each line with a file:line inside the document, and
// that accepted manifests satisfy the schema's invariants.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		header,
		header + "[entry]\ntype = \"reactor\"\nexports = [\"a\", \"a\"]\n",
		header + "[io.in]\ntype = \"stream\"\n[io.x]\ntype = \"stream\"\ndirection = \"in\"\n",
		header + "[[capabilities.fs]]\npath = \"/..\"\naccess = \"rx\"\n",
		header + "[limits]\nmemory = \"64MB\"\ndeadline = \"-1s\"\nopen_files = 0\n",
		header + "capabilities = { env = [\"[\"], network = [\"tcp://h:*\"] }\n",
		"name = \"\"\"\nx\"\"\"\n",
		"",
		libHeader + libExport,
		libHeader + "[library]\nstateful = true\ninstances = 3\n[exports.a]\nargs = \"{w: int, h?: [float]?}\"\nresult = \"json\"\n",
		libHeader + "exports = { a = { args = \"[bytes]\" }, B = {} }\n",
		header + "[exports.x]\n[library]\n",
		header + "[dependencies]\nvision = \"^1.2\"\nkv = { version = \">= 1, < 3\", functions = [\"get\", \"get\"], optional = true }\n",
		header + "[dependencies.\"example.com/kv\"]\nversion = \"~1 || 2.x\"\nfunctions = []\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse(data, "fuzz.toml")
		if err != nil {
			if m != nil {
				t.Fatal("manifest returned with an error")
			}
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, l := range strings.Split(err.Error(), "\n") {
				sub := fuzzLineRE.FindStringSubmatch(l)
				if sub == nil {
					t.Fatalf("error line without file:line: %q", l)
				}
				if n, _ := strconv.Atoi(sub[1]); n < 1 || n > lines {
					t.Fatalf("error at line %d of a %d-line document: %q", n, lines, l)
				}
			}
			return
		}
		if !fuzzNameRE.MatchString(m.Name) || len(m.Name) > manifest.MaxNameLen {
			t.Errorf("bad name %q", m.Name)
		}
		if m.Version == nil || m.String() != m.Name+"@"+m.Version.String() {
			t.Errorf("bad version %v / String %q", m.Version, m.String())
		}
		switch m.Kind {
		case manifest.KindApp, manifest.KindLibrary, manifest.KindDriver, manifest.KindService:
		default:
			t.Errorf("bad kind %q", m.Kind)
		}
		switch m.Entry.Type {
		case manifest.EntryCommand:
			if m.Entry.Start == "" || m.Entry.Init != "" || m.Entry.Exports != nil {
				t.Errorf("bad command entry %+v", m.Entry)
			}
		case manifest.EntryReactor:
			if m.Entry.Start != "" {
				t.Errorf("bad reactor entry %+v", m.Entry)
			}
		default:
			t.Errorf("bad entry type %q", m.Entry.Type)
		}
		stdio := map[string]int{}
		for name, io := range m.IO {
			if io.Name != name || io.Type != manifest.IOStream ||
				(io.Direction != manifest.DirectionIn && io.Direction != manifest.DirectionOut) ||
				(io.Bind != manifest.BindStdio && io.Bind != manifest.BindFile) {
				t.Errorf("bad io %q: %+v", name, io)
			}
			if io.Bind == manifest.BindStdio {
				stdio[io.Direction]++
			}
		}
		if stdio[manifest.DirectionIn] > 1 || stdio[manifest.DirectionOut] > 1 {
			t.Errorf("several ios bound to stdio: %+v", m.IO)
		}
		if len(m.IOs()) != len(m.IO) {
			t.Errorf("IOs() has %d entries, IO %d", len(m.IOs()), len(m.IO))
		}
		seen := map[string]bool{}
		for _, fs := range m.Capabilities.FS {
			if manifest.ValidGuestPath(fs.Path) != nil || seen[fs.Path] { // absolute, or a relative preopen name
				t.Errorf("bad fs request %+v", fs)
			}
			seen[fs.Path] = true
		}
		for _, n := range m.Capabilities.Network {
			scheme, rest, ok := strings.Cut(n, "://")
			if _, _, err := net.SplitHostPort(rest); !ok || scheme == "" || err != nil {
				t.Errorf("bad network request %q", n)
			}
		}
		for _, g := range m.Capabilities.Env {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				t.Errorf("bad env glob %q", g)
			}
		}
		l := m.Limits
		if l.MemoryBytes%manifest.PageSize != 0 || l.MemoryBytes > manifest.MaxMemory ||
			l.Deadline < 0 || l.OpenFiles < 0 || l.OpenFiles > manifest.MaxOpenFiles {
			t.Errorf("bad limits %+v", l)
		}
		if (m.Kind == manifest.KindLibrary) != (len(m.Exports) > 0) {
			t.Errorf("kind %s with %d exports", m.Kind, len(m.Exports))
		}
		if m.Library.Instances < 0 || m.Library.Instances > manifest.MaxInstances || m.Library.Stateful && m.Library.Instances != 0 ||
			m.Kind != manifest.KindLibrary && m.Library != (manifest.LibrarySpec{}) {
			t.Errorf("bad library %+v for kind %s", m.Library, m.Kind)
		}
		for name, e := range m.Exports {
			if e.Name != name || manifest.ValidateExportName(name) != nil || e.ArgsShape == nil || e.ResultShape == nil ||
				e.Args != e.ArgsShape.String() || e.Result != e.ResultShape.String() {
				t.Errorf("bad export %q: %+v", name, e)
			}
		}
		for name, dep := range m.Dependencies {
			if dep.Name != name || manifest.ValidateName(name) != nil || dep.Constraint == nil || dep.Range == "" ||
				dep.Functions != nil && len(dep.Functions) == 0 {
				t.Errorf("bad dependency %q: %+v", name, dep)
			}
			seen := map[string]bool{}
			for _, f := range dep.Functions {
				if manifest.ValidateExportName(f) != nil || seen[f] {
					t.Errorf("bad function %q in dependency %+v", f, dep)
				}
				seen[f] = true
			}
		}
		if len(m.ExportList()) != len(m.Exports) || len(m.DependencyList()) != len(m.Dependencies) {
			t.Errorf("ExportList/DependencyList lengths differ")
		}
		if _, err := json.Marshal(m); err != nil {
			t.Errorf("json.Marshal: %v", err)
		}
		again, err := manifest.Parse(data, "fuzz.toml")
		if err != nil || !reflect.DeepEqual(m, again) {
			t.Errorf("second Parse differs: %v", err)
		}
	})
}
