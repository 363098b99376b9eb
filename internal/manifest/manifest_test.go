package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/orbitalfoundation/orbital/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json golden files")

const header = `name = "shrink"
version = "1.2.0"
kind = "app"
`

// libHeader starts a library manifest; libExport is its smallest [exports].
const (
	libHeader = "name = \"vision\"\nversion = \"1.0.0\"\nkind = \"library\"\n"
	libExport = "[exports.gray]\n"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		check func(t *testing.T, m *manifest.Manifest)
	}{
		{"defaults", header, func(t *testing.T, m *manifest.Manifest) {
			want := manifest.Capabilities{Stdin: true, Stdout: true, Stderr: true}
			if !reflect.DeepEqual(m.Capabilities, want) {
				t.Errorf("capabilities = %+v, want %+v", m.Capabilities, want)
			}
			if m.Entry.Type != manifest.EntryCommand || m.Entry.Start != "_start" {
				t.Errorf("entry = %+v", m.Entry)
			}
			if m.Limits != (manifest.Limits{}) {
				t.Errorf("limits = %+v", m.Limits)
			}
			if m.String() != "shrink@1.2.0" || m.Source != "orbital.toml" || m.Kind != manifest.KindApp {
				t.Errorf("String() = %q, Source = %q, Kind = %q", m.String(), m.Source, m.Kind)
			}
		}},
		{"namespaced name", `name = "a.b-c/d2"` + "\n" + header[len("name = \"shrink\"\n"):], func(t *testing.T, m *manifest.Manifest) {
			if m.Name != "a.b-c/d2" {
				t.Errorf("name = %q", m.Name)
			}
		}},
		{"max name length", `name = "` + strings.Repeat("a", 128) + `"` + "\nversion = \"1.0.0\"\nkind = \"driver\"\n", func(t *testing.T, m *manifest.Manifest) {
			if len(m.Name) != 128 {
				t.Errorf("len(name) = %d", len(m.Name))
			}
		}},
		{"prerelease version", "name = \"x\"\nversion = \"1.0.0-alpha.1+sha.5114f85\"\nkind = \"service\"\n", func(t *testing.T, m *manifest.Manifest) {
			if m.Version.Prerelease() != "alpha.1" || m.Version.Metadata() != "sha.5114f85" {
				t.Errorf("version = %v", m.Version)
			}
		}},
		{"command start", header + "[entry]\nstart = \"main\"\n", func(t *testing.T, m *manifest.Manifest) {
			if !reflect.DeepEqual(m.Entry, manifest.Entry{Type: "command", Start: "main"}) {
				t.Errorf("entry = %+v", m.Entry)
			}
		}},
		{"reactor", header + "[entry]\ntype = \"reactor\"\nexports = [\"a\", \"_b2\"]\n", func(t *testing.T, m *manifest.Manifest) {
			if m.Entry.Start != "" || m.Entry.Init != "" || !reflect.DeepEqual(m.Entry.Exports, []string{"a", "_b2"}) {
				t.Errorf("entry = %+v", m.Entry)
			}
		}},
		{"io defaults", header + "[io.in]\ntype = \"stream\"\n[io.out]\ntype = \"stream\"\n[io.log]\ntype = \"stream\"\ndirection = \"out\"\nbind = \"file\"\n", func(t *testing.T, m *manifest.Manifest) {
			want := []manifest.IO{
				{Name: "in", Type: "stream", Direction: "in", Bind: "stdio"},
				{Name: "log", Type: "stream", Direction: "out", Bind: "file"},
				{Name: "out", Type: "stream", Direction: "out", Bind: "stdio"},
			}
			if got := m.IOs(); !reflect.DeepEqual(got, want) {
				t.Errorf("IOs() = %+v, want %+v", got, want)
			}
		}},
		{"fs root", header + "[[capabilities.fs]]\npath = \"/\"\naccess = \"rw\"\n", func(t *testing.T, m *manifest.Manifest) {
			if want := []manifest.FSRequest{{Path: "/"}}; !reflect.DeepEqual(m.Capabilities.FS, want) {
				t.Errorf("fs = %+v", m.Capabilities.FS)
			}
		}},
		{"stdio off", header + "[capabilities]\nstdin = false\nstdout = false\nstderr = false\n", func(t *testing.T, m *manifest.Manifest) {
			if c := m.Capabilities; c.Stdin || c.Stdout || c.Stderr {
				t.Errorf("capabilities = %+v", c)
			}
		}},
		{"empty lists", header + "[capabilities]\nenv = []\nnetwork = []\nfs = []\n", func(t *testing.T, m *manifest.Manifest) {
			if c := m.Capabilities; c.Env == nil || len(c.Env) != 0 || len(c.Network) != 0 || len(c.FS) != 0 {
				t.Errorf("capabilities = %+v", c)
			}
		}},
		{"limits", header + "[limits]\nmemory = \"4GiB\"\ndeadline = \"1m30s\"\nopen_files = 65536\n", func(t *testing.T, m *manifest.Manifest) {
			want := manifest.Limits{MemoryBytes: 4 << 30, Deadline: 90 * time.Second, OpenFiles: 65536}
			if m.Limits != want {
				t.Errorf("limits = %+v, want %+v", m.Limits, want)
			}
		}},
		{"memory plain bytes", header + "[limits]\nmemory = \"65536\"\n", func(t *testing.T, m *manifest.Manifest) {
			if m.Limits.MemoryBytes != 65536 {
				t.Errorf("memory = %d", m.Limits.MemoryBytes)
			}
		}},
		{"memory integer", header + "[limits]\nmemory = 131072\n", func(t *testing.T, m *manifest.Manifest) {
			if m.Limits.MemoryBytes != 131072 {
				t.Errorf("memory = %d", m.Limits.MemoryBytes)
			}
		}},
		{"library defaults", libHeader + libExport, func(t *testing.T, m *manifest.Manifest) {
			e := m.Exports["gray"]
			if m.Library != (manifest.LibrarySpec{}) || len(m.Exports) != 1 || e.Name != "gray" ||
				e.Args != "bytes" || e.Result != "bytes" || !e.ArgsShape.IsBytes() || !e.ResultShape.IsBytes() {
				t.Errorf("library = %+v, exports = %+v", m.Library, m.Exports)
			}
		}},
		{"library shapes", libHeader + "[library]\ninstances = 256\n[exports.b]\nargs = \"{ x : int ,y?:[ float ] }\"\nresult = \"json\"\n[exports._a2]\nargs = \"string\"\ndescription = \"d\"\n", func(t *testing.T, m *manifest.Manifest) {
			want := []struct{ name, args, result string }{{"_a2", "string", "bytes"}, {"b", "{x: int, y?: [float]}", "json"}}
			list := m.ExportList()
			if len(list) != len(want) || m.Library.Instances != 256 || m.Library.Stateful {
				t.Fatalf("exports = %+v, library = %+v", list, m.Library)
			}
			for i, w := range want {
				e := list[i]
				if e.Name != w.name || e.Args != w.args || e.Result != w.result || e.ArgsShape.String() != w.args || e.ResultShape.String() != w.result {
					t.Errorf("export %d = %+v, want %+v", i, e, w)
				}
			}
			if list[0].Description != "d" {
				t.Errorf("description = %q", list[0].Description)
			}
		}},
		{"stateful library", libHeader + "[library]\nstateful = true\n" + libExport, func(t *testing.T, m *manifest.Manifest) {
			if !m.Library.Stateful || m.Library.Instances != 0 {
				t.Errorf("library = %+v", m.Library)
			}
		}},
		{"dependencies", header + "[dependencies]\nvision = \"^1.2\"\n\"example.com/kv\" = { version = \">= 1, < 3\", functions = [\"get\", \"put\"], optional = true }\n[dependencies.\"a.b-c\"]\nversion = \"*\"\n", func(t *testing.T, m *manifest.Manifest) {
			list := m.DependencyList()
			if len(list) != 3 {
				t.Fatalf("dependencies = %+v", list)
			}
			ab, kv, vision := list[0], list[1], list[2]
			if ab.Name != "a.b-c" || ab.Range != "*" || ab.Functions != nil || ab.Optional {
				t.Errorf("a.b-c = %+v", ab)
			}
			if kv.Name != "example.com/kv" || kv.Range != ">= 1, < 3" || !reflect.DeepEqual(kv.Functions, []string{"get", "put"}) || !kv.Optional {
				t.Errorf("kv = %+v", kv)
			}
			if vision.Name != "vision" || vision.Range != "^1.2" || vision.Functions != nil || vision.Optional {
				t.Errorf("vision = %+v", vision)
			}
			for _, c := range []struct {
				dep     manifest.Dependency
				version string
				ok      bool
			}{{vision, "1.2.0", true}, {vision, "1.9.3", true}, {vision, "2.0.0", false}, {vision, "1.1.9", false}, {kv, "2.5.0", true}, {kv, "3.0.0", false}, {ab, "0.0.1", true}} {
				if got := c.dep.Constraint.Check(semver.MustParse(c.version)); got != c.ok {
					t.Errorf("%s %s accepts %s = %v", c.dep.Name, c.dep.Range, c.version, got)
				}
			}
		}},
		{"library may depend on itself", libHeader + libExport + "[dependencies]\nvision = \"*\"\n", func(t *testing.T, m *manifest.Manifest) {
			if len(m.Dependencies) != 1 {
				t.Errorf("dependencies = %+v", m.Dependencies)
			}
		}},
		{"net table", header + "[capabilities]\nnetwork = [\"tcp://a.example:1\"]\n[capabilities.net]\nconnect = [\"a.example:1\", \"b.example:*\"]\nlisten = [\"127.0.0.1:*\"]\n", func(t *testing.T, m *manifest.Manifest) {
			want := []string{"tcp://a.example:1", "tcp://b.example:*", "tcp-listen://127.0.0.1:*"}
			if got := m.Capabilities.Network; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("network = %q, want %q", got, want)
			}
		}},
		{"network wildcard port", header + "[capabilities]\nnetwork = [\"udp://dns.example:*\", \"http://[2001:db8::1]:80\"]\n", func(t *testing.T, m *manifest.Manifest) {
			if len(m.Capabilities.Network) != 2 {
				t.Errorf("network = %q", m.Capabilities.Network)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := manifest.Parse([]byte(tt.toml), "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, m)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		toml string
		line int
		msg  string // expected message after "orbital.toml:LINE: "
	}{
		// TOML syntax.
		{"syntax", header + "x = \n", 4, "invalid TOML:"},
		{"duplicate key", header + "kind = \"app\"\n", 4, "invalid TOML: Key 'kind' has already been defined."},
		{"unterminated string", "name = \"shrink\nversion = \"1.0.0\"\n", 1, "invalid TOML:"},

		// Required keys and types.
		{"missing name", "version = \"1.0.0\"\nkind = \"app\"\n", 1, "name: missing (required)"},
		{"missing version and kind", "\n\nname = \"x\"\n", 1, "version: missing (required)"},
		{"name type", "version = \"1.0.0\"\nkind = \"app\"\nname = 5\n", 3, "name: must be a string, got integer"},
		{"unknown top-level key", header + "\n\nauthor = \"me\"\n", 6, `author: unknown key (allowed keys: name, version, kind, description, entry, io, capabilities, limits, bus, triggers, library, exports, dependencies, driver)`},
		{"unknown table", header + "[permissions]\nfs = true\n", 4, "permissions: unknown key"},

		// Bus.
		{"bus pattern with inner >", header + "[bus]\npublish = [\"a.>.b\"]\n", 5, `bus.publish: "a.>.b": '>' must be the last token`},
		{"bus partial wildcard", header + "[bus]\nsubscribe = [\"a.b*\"]\n", 5, `bus.subscribe: "a.b*": wildcards must be whole tokens`},
		{"bus empty token", header + "[bus]\n\nlisten = [\"a..b\"]\n", 6, `bus.listen: "a..b": empty token`},
		{"bus overflow", header + "[bus]\noverflow = \"spill\"\n", 5, `bus.overflow: must be one of`},
		{"bus mailbox", header + "[bus]\nmailbox = 0\n", 5, `bus.mailbox: must be between 1 and`},
		{"bus send name", header + "[bus]\nsend = [\"a.b\"]\n", 5, `bus.send: "a.b" is not a process name`},
		{"bus unknown key", header + "[bus]\npublsh = [\"x\"]\n", 5, `bus.publsh: unknown key`},
		{"quoted unknown key", header + "\"odd key\" = 1\n", 4, `"odd key": unknown key`},

		// Library, exports and dependencies.
		{"library without exports", libHeader + "\n[library]\nstateful = true\n", 3, `kind: a library must export at least one function ([exports.NAME])`},
		{"library empty exports", libHeader + "[exports]\n", 4, `exports: a library must export at least one function`},
		{"library on an app", header + "\n[library]\nstateful = true\n", 5, `library: only allowed when kind = "library"`},
		{"exports on an app", header + "[exports.gray]\nargs = \"bytes\"\n", 4, `exports: only allowed when kind = "library" or "driver" (only libraries and drivers offer functions to other modules)`},
		{"driver table on an app", header + "[driver]\nresources = [\"/dev/video0\"]\n", 4, `driver: only allowed when kind = "driver"`},
		{"driver name with a dot", "name = \"acme.cam\"\nversion = \"1.0.0\"\nkind = \"driver\"\n", 1, `name: a driver's name is its device's name`},
		{"driver resource relative", "name = \"cam\"\nversion = \"1.0.0\"\nkind = \"driver\"\n[driver]\nresources = [\"dev/video0\"]\n", 5, `driver.resources[0]: "dev/video0": want an absolute, clean host path`},
		{"device name bad", header + "[capabilities]\ndevices = [\"Cam.x\"]\n", 5, `capabilities.devices[0]: "Cam.x" is not a device name`},
		{"device twice", header + "[capabilities]\ndevices = [\"cam\", \"cam\"]\n", 5, `capabilities.devices[1]: "cam" is listed twice`},
		{"library instances with stateful", libHeader + libExport + "[library]\nstateful = true\ninstances = 2\n", 7, `library.instances: only allowed for a stateless library`},
		{"library instances range", libHeader + libExport + "[library]\ninstances = 257\n", 6, `library.instances: must be between 1 and 256 (or 0 for the kernel default), got 257`},
		{"library instances negative", libHeader + libExport + "[library]\ninstances = -1\n", 6, `library.instances: must be between 1 and 256`},
		{"library instances type", libHeader + libExport + "[library]\ninstances = \"4\"\n", 6, `library.instances: must be an integer, got string`},
		{"library unknown key", libHeader + libExport + "[library]\nthreads = 4\n", 6, `library.threads: unknown key (allowed keys: stateful, instances)`},
		{"export name", libHeader + "[exports.Gray]\n", 4, `exports.Gray: "Gray" is not a valid function name (lowercase letters, digits and '_', not starting with a digit, at most 64 characters)`},
		{"export name dash", libHeader + "[exports.to-gray]\n", 4, `exports.to-gray: "to-gray" is not a valid function name`},
		{"export name long", libHeader + "[exports." + strings.Repeat("a", 65) + "]\n", 4, "exports." + strings.Repeat("a", 65) + `: "` + strings.Repeat("a", 65) + `" is not a valid function name`},
		{"export not a table", libHeader + "[exports]\ngray = \"bytes\"\n", 5, `exports.gray: must be a table, got string`},
		{"export bad args", libHeader + "[exports.gray]\ndescription = \"x\"\nargs = \"{w: intt}\"\n", 6, `exports.gray.args: shape "{w: intt}": at byte 4: unknown type "intt"`},
		{"export bad result", libHeader + "[exports.gray]\nresult = \"[bytes]\"\n", 5, `exports.gray.result: shape "[bytes]": at byte 1: bytes is only allowed as the whole shape`},
		{"export args type", libHeader + "[exports.gray]\nargs = 1\n", 5, `exports.gray.args: must be a string, got integer`},
		{"export unknown key", libHeader + "[exports.gray]\nreturns = \"bytes\"\n", 5, `exports.gray.returns: unknown key (allowed keys: args, result, description)`},
		{"inline export", libHeader + "exports = { gray = { args = \"int\" }, blur = { args = 7 } }\n", 4, `exports.blur.args: must be a string, got integer`},
		{"dependency name", header + "[dependencies]\nVision = \"^1\"\n", 5, `dependencies.Vision: "Vision" is not a valid module name`},
		{"dependency quoted name", header + "[dependencies]\n\"a/b/c\" = \"^1\"\n", 5, `dependencies."a/b/c": "a/b/c" is not a valid module name`},
		{"dependency range", header + "[dependencies]\nvision = \"^1\"\nkv = \"one\"\n", 6, `dependencies.kv: "one" is not a version range such as "^1.2", "~1.2.3" or ">= 1.2, < 2" (`},
		{"dependency empty range", header + "[dependencies]\nkv = \"\"\n", 5, `dependencies.kv: empty version range (use "*" for any version)`},
		{"dependency long range", header + "[dependencies]\nkv = \"" + strings.Repeat("1", 257) + "\"\n", 5, `dependencies.kv: version range is too long (257 characters, at most 256)`},
		{"dependency type", header + "[dependencies]\nkv = 1\n", 5, `dependencies.kv: must be a version range such as "^1.2" or a table { version = "^1.2", functions = ["…"], optional = true }, got integer`},
		{"dependency version missing", header + "[dependencies]\nkv = { functions = [\"get\"] }\n", 5, `dependencies.kv.version: missing (required)`},
		{"dependency inline range", header + "[dependencies]\nkv = { version = \"1.2.3.4\" }\n", 5, `dependencies.kv.version: "1.2.3.4" is not a version range`},
		{"dependency functions empty", header + "[dependencies]\nkv = { version = \"^1\", functions = [] }\n", 5, `dependencies.kv.functions: must name at least one function (omit it to call any function)`},
		{"dependency function name", header + "[dependencies.kv]\nversion = \"^1\"\nfunctions = [\n  \"get\",\n  \"Put\",\n]\n", 8, `dependencies.kv.functions[1]: "Put" is not a valid function name`},
		{"dependency function twice", header + "[dependencies.kv]\nversion = \"^1\"\nfunctions = [\"get\", \"get\"]\n", 6, `dependencies.kv.functions[1]: "get" is listed twice`},
		{"dependency functions type", header + "[dependencies.kv]\nversion = \"^1\"\nfunctions = \"get\"\n", 6, `dependencies.kv.functions: must be an array of strings, got string`},
		{"dependency optional type", header + "[dependencies.kv]\nversion = \"^1\"\noptional = \"yes\"\n", 6, `dependencies.kv.optional: must be true or false, got string`},
		{"dependency unknown key", header + "[dependencies.kv]\nversion = \"^1\"\nrange = \"^1\"\n", 6, `dependencies.kv.range: unknown key (allowed keys: version, functions, optional)`},
		{"dependencies not a table", header + "dependencies = [\"kv\"]\n", 4, `dependencies: must be a table, got array`},

		// Name.
		{"name uppercase", "name = \"Shrink\"\nversion = \"1.0.0\"\nkind = \"app\"\n", 1, `name: "Shrink" is not a valid module name`},
		{"name two slashes", "name = \"a/b/c\"\nversion = \"1.0.0\"\nkind = \"app\"\n", 1, `name: "a/b/c" is not a valid module name`},
		{"name leading digit", "name = \"9a\"\nversion = \"1.0.0\"\nkind = \"app\"\n", 1, `name: "9a" is not a valid module name`},
		{"name empty segment", "name = \"a..b\"\nversion = \"1.0.0\"\nkind = \"app\"\n", 1, `name: "a..b" is not a valid module name`},
		{"name too long", "name = \"" + strings.Repeat("a", 129) + "\"\nversion = \"1.0.0\"\nkind = \"app\"\n", 1, "name: too long (129 characters, at most 128)"},

		// Version.
		{"version v prefix", "name = \"x\"\nkind = \"app\"\nversion = \"v1.0.0\"\n", 3, `version: "v1.0.0" is not a semantic version`},
		{"version two parts", "name = \"x\"\nkind = \"app\"\nversion = \"1.0\"\n", 3, `version: "1.0" is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (need exactly three numbers)`},
		{"version leading zero", "name = \"x\"\nkind = \"app\"\nversion = \"1.02.0\"\n", 3, `version: "1.02.0" is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (numbers must not have leading zeros)`},
		{"version empty prerelease", "name = \"x\"\nkind = \"app\"\nversion = \"1.0.0-\"\n", 3, `version: "1.0.0-" is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (invalid pre-release)`},
		{"version float", "name = \"x\"\nkind = \"app\"\nversion = 1.0\n", 3, "version: must be a string, got float"},

		// Kind.
		{"kind", "name = \"x\"\nversion = \"1.0.0\"\nkind = \"program\"\n", 3, `kind: must be one of "app", "library", "driver", "service", got "program"`},

		// Entry.
		{"entry type", header + "[entry]\ntype = \"daemon\"\n", 5, `entry.type: must be "command" or "reactor", got "daemon"`},
		{"entry start on reactor", header + "[entry]\ntype = \"reactor\"\nstart = \"_start\"\n", 6, `entry.start: only allowed when entry.type is "command"`},
		{"entry init on command", header + "[entry]\ninit = \"_initialize\"\n", 5, `entry.init: only allowed when entry.type is "reactor"`},
		{"entry exports on command", header + "[entry]\nexports = [\"f\"]\n", 5, `entry.exports: only allowed when entry.type is "reactor"`},
		{"entry export identifier", header + "[entry]\ntype = \"reactor\"\nexports = [\n  \"ok\",\n  \"not-ok\",\n]\n", 8, `entry.exports[1]: "not-ok" is not a valid export name`},
		{"entry export duplicate", header + "[entry]\ntype = \"reactor\"\nexports = [\"f\", \"f\"]\n", 6, `entry.exports[1]: "f" is listed twice`},
		{"entry export type", header + "[entry]\ntype = \"reactor\"\nexports = [\"f\", 2]\n", 6, "entry.exports[1]: must be a string, got integer"},
		{"entry not a table", header + "entry = \"_start\"\n", 4, "entry: must be a table, got string"},
		{"entry unknown", header + "[entry]\nmain = \"x\"\n", 5, "entry.main: unknown key (allowed keys: type, start, init, exports)"},

		// IO.
		{"io type missing", header + "[io.in]\ndirection = \"in\"\n", 4, "io.in.type: missing (required)"},
		{"io type", header + "[io.in]\ntype = \"pipe\"\n", 5, `io.in.type: must be "stream", got "pipe"`},
		{"io direction missing", header + "[io.data]\ntype = \"stream\"\n", 4, `io.data.direction: missing (required unless the io is named "in" or "out")`},
		{"io direction conflict", header + "[io.in]\ntype = \"stream\"\ndirection = \"out\"\n", 6, `io.in.direction: the io named "in" must have direction "in"`},
		{"io direction value", header + "[io.x]\ntype = \"stream\"\ndirection = \"both\"\n", 6, `io.x.direction: must be "in" or "out", got "both"`},
		{"io bind", header + "[io.in]\ntype = \"stream\"\nbind = \"socket\"\n", 6, `io.in.bind: must be "stdio" or "file", got "socket"`},
		{"io name", header + "[io.Input]\ntype = \"stream\"\ndirection = \"in\"\n", 4, `io.Input: "Input" is not a valid io name`},
		{"io two stdin", header + "[io.in]\ntype = \"stream\"\n[io.more]\ntype = \"stream\"\ndirection = \"in\"\n", 6, `io.more: only one input may bind to stdin; io.in already does`},
		{"io two stdout", header + "[io.a]\ntype = \"stream\"\ndirection = \"out\"\n[io.b]\ntype = \"stream\"\ndirection = \"out\"\n", 7, `io.b: only one output may bind to stdout; io.a already does`},
		{"io not a table", header + "[io]\nin = \"stdin\"\n", 5, "io.in: must be a table, got string"},
		{"io unknown", header + "[io.in]\ntype = \"stream\"\nformat = \"png\"\n", 6, "io.in.format: unknown key"},

		// Capabilities.
		{"args type", header + "[capabilities]\nargs = \"yes\"\n", 5, "capabilities.args: must be true or false, got string"},
		{"clock type", header + "[capabilities]\nclock = 1\n", 5, "capabilities.clock: must be true or false, got integer"},
		{"env type", header + "[capabilities]\nenv = \"LANG\"\n", 5, "capabilities.env: must be an array of strings, got string"},
		{"env bad glob", header + "[capabilities]\nenv = [\n  \"LANG\",\n  \"APP_[\",\n]\n", 7, `capabilities.env[1]: "APP_[" is not a valid glob pattern`},
		{"env equals", header + "[capabilities]\nenv = [\"A=B\"]\n", 5, `capabilities.env[0]: "A=B": variable name patterns cannot contain '='`},
		{"env empty", header + "[capabilities]\nenv = [\"\"]\n", 5, "capabilities.env[0]: empty variable name pattern"},
		{"network scheme", header + "[capabilities]\nnetwork = [\"ftp://example.com:21\"]\n", 5, `capabilities.network[0]: "ftp://example.com:21" has an unsupported scheme`},
		{"network no port", header + "[capabilities]\nnetwork = [\"https://example.com\"]\n", 5, `capabilities.network[0]: "https://example.com" needs a host and a port (want SCHEME://HOST:PORT with SCHEME tcp, tcp-listen, udp, http or https and PORT a number or *)`},
		{"network bad port", header + "[capabilities]\nnetwork = [\"tcp://example.com:70000\"]\n", 5, `capabilities.network[0]: "tcp://example.com:70000" has an invalid port`},
		{"network bad host", header + "[capabilities]\nnetwork = [\"tcp://exa_mple.com:1\"]\n", 5, `capabilities.network[0]: "tcp://exa_mple.com:1" has an invalid host`},
		{"network path", header + "[capabilities]\nnetwork = [\"https://example.com:443/x\"]\n", 5, `capabilities.network[0]: "https://example.com:443/x" must not have a path`},
		{"net bad address", header + "[capabilities.net]\nlisten = [\"127.0.0.1\"]\n", 5, `capabilities.net.listen[0]: "127.0.0.1": want HOST:PORT, PORT a number or *`},
		{"net unknown key", header + "[capabilities.net]\ndial = []\n", 5, "capabilities.net.dial: unknown key (allowed keys: connect, listen)"},
		{"network no scheme", header + "[capabilities]\nnetwork = [\"example.com:443\"]\n", 5, `capabilities.network[0]: "example.com:443" has no scheme`},
		{"capabilities unknown", header + "[capabilities]\nfilesystem = []\n", 5, "capabilities.filesystem: unknown key (allowed keys: args, env, stdin, stdout, stderr, clock, random, network, net, input, devices, display, fs)"},

		// File system.
		{"fs access", header + "[[capabilities.fs]]\npath = \"/data\"\naccess = \"rx\"\n", 6, `capabilities.fs[0].access: must be "ro" or "rw", got "rx"`},
		{"fs access missing", header + "[[capabilities.fs]]\npath = \"/data\"\n", 4, "capabilities.fs[0].access: missing (required)"},
		{"fs path missing", header + "[[capabilities.fs]]\naccess = \"ro\"\n", 4, "capabilities.fs[0].path: missing (required)"},
		{"fs climbing", header + "[[capabilities.fs]]\npath = \"/a\"\naccess = \"ro\"\n\n[[capabilities.fs]]\npath = \"../data\"\naccess = \"ro\"\n", 9, `capabilities.fs[1].path: "../data" climbs out`},
		{"fs dotdot", header + "[[capabilities.fs]]\npath = \"/..\"\naccess = \"ro\"\n", 5, `capabilities.fs[0].path: "/.." is not clean (did you mean "/"?)`},
		{"fs trailing slash", header + "[[capabilities.fs]]\npath = \"/data/\"\naccess = \"ro\"\n", 5, `capabilities.fs[0].path: "/data/" is not clean (did you mean "/data"?)`},
		{"fs duplicate", header + "[[capabilities.fs]]\npath = \"/d\"\naccess = \"ro\"\n[[capabilities.fs]]\npath = \"/d\"\naccess = \"rw\"\n", 8, "capabilities.fs[1].path: /d is requested twice (also capabilities.fs[0])"},
		{"fs optional type", header + "[[capabilities.fs]]\npath = \"/d\"\naccess = \"ro\"\noptional = \"no\"\n", 7, "capabilities.fs[0].optional: must be true or false, got string"},
		{"fs unknown", header + "[[capabilities.fs]]\npath = \"/d\"\naccess = \"ro\"\n[[capabilities.fs]]\npath = \"/e\"\naccess = \"ro\"\nmode = 7\n", 10, "capabilities.fs[1].mode: unknown key (allowed keys: path, access, optional)"},
		{"fs inline unknown", header + "[capabilities]\nfs = [\n  {path = \"/d\", access = \"ro\"},\n  {path = \"/e\", access = \"ro\", mode = 7},\n]\n", 7, "capabilities.fs[1].mode: unknown key"},
		{"fs not tables", header + "[capabilities]\nfs = [\"/data\"]\n", 5, "capabilities.fs[0]: must be a table, got string"},
		{"fs not array", header + "[capabilities]\nfs = \"/data\"\n", 5, "capabilities.fs: must be an array of tables"},

		// Limits.
		{"memory decimal unit", header + "[limits]\nmemory = \"64MB\"\n", 5, `limits.memory: invalid size "64MB": want an integer number of bytes with an optional KiB, MiB or GiB suffix (did you mean "64MiB"?)`},
		{"memory not page multiple", header + "[limits]\nmemory = \"100KiB\"\n", 5, "limits.memory: 100KiB is not a multiple of the 64KiB wasm page size"},
		{"memory zero", header + "[limits]\nmemory = \"0MiB\"\n", 5, "limits.memory: must be greater than zero"},
		{"memory too large", header + "[limits]\nmemory = \"5GiB\"\n", 5, "limits.memory: 5GiB is more than the wasm32 maximum of 4GiB"},
		{"memory overflow", header + "[limits]\nmemory = \"99999999999GiB\"\n", 5, `limits.memory: invalid size "99999999999GiB": too large`},
		{"memory negative", header + "[limits]\nmemory = -65536\n", 5, "limits.memory: must not be negative"},
		{"memory float", header + "[limits]\nmemory = 1.5\n", 5, "limits.memory: must be a size string"},
		{"memory space", header + "[limits]\nmemory = \"64 MiB\"\n", 5, `limits.memory: invalid size "64 MiB"`},
		{"deadline syntax", header + "[limits]\ndeadline = \"5 seconds\"\n", 5, `limits.deadline: "5 seconds" is not a duration`},
		{"deadline zero", header + "[limits]\ndeadline = \"0s\"\n", 5, `limits.deadline: must be greater than zero, got "0s"`},
		{"deadline integer", header + "[limits]\ndeadline = 5\n", 5, "limits.deadline: must be a string, got integer"},
		{"open files zero", header + "[limits]\nopen_files = 0\n", 5, "limits.open_files: must be between 1 and 65536, got 0"},
		{"open files large", header + "[limits]\nopen_files = 65537\n", 5, "limits.open_files: must be between 1 and 65536, got 65537"},
		{"open files string", header + "[limits]\nopen_files = \"64\"\n", 5, "limits.open_files: must be an integer, got string"},
		{"limits unknown", header + "[limits]\ncpu = 1\n", 5, "limits.cpu: unknown key (allowed keys: memory, deadline, open_files)"},

		// Positions survive multi-line strings, comments and dotted keys.
		{"after multiline string", header + "description = \"\"\"\nline one\n[not a table]\nkind = 'x'\n\"\"\"\n[limits]\nopen_files = -1\n", 10, "limits.open_files: must be between"},
		{"after literal multiline", header + "description = '''\n'' [entry]\ntype = 'x' \\\n'''\nfoo = 1\n", 8, "foo: unknown key"},
		{"after basic multiline with quotes", header + "description = \"\"\"\n\\\"\"\" [entry]\nx\"\"\"\"\"\nfoo = 1\n", 7, "foo: unknown key"},
		{"date-time with space", header + "[capabilities]\nnetwork = [\n  1979-05-27 07:32:00Z,\n  \"bad\",\n]\n", 6, "capabilities.network[0]: must be a string, got date-time"},
		{"array index after date-time", header + "[entry]\ntype = \"reactor\"\nexports = [\"a\", 1979-05-27 07:32:00,\n  \"b\", 2]\n", 6, "entry.exports[1]: must be a string, got date-time"},
		{"dotted keys", header + "capabilities.fs = [{path = \"/d\", access = \"ro\"}]\ncapabilities.clock = \"yes\"\n", 5, "capabilities.clock: must be true or false, got string"},
		{"comment with bracket", header + "# [limits]\n# open_files = 0\n[capabilities] # [x]\nclock = 2 # ]\n", 7, "capabilities.clock: must be true or false"},
	}
	lineRE := regexp.MustCompile(`^orbital\.toml:(\d+): `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := manifest.Parse([]byte(tt.toml), "orbital.toml")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", m)
			}
			if m != nil {
				t.Errorf("Parse returned a manifest with an error")
			}
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var e *manifest.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *manifest.Error", err)
			}
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			if first != e.Error() {
				t.Errorf("first line %q differs from errors.As result %q", first, e.Error())
			}
			want := "orbital.toml:" + strconv.Itoa(tt.line) + ": " + tt.msg
			if !strings.HasPrefix(first, want) {
				t.Errorf("error:\n  %s\nwant prefix:\n  %s", err, want)
			}
			for _, l := range strings.Split(err.Error(), "\n") {
				if !lineRE.MatchString(l) {
					t.Errorf("error line %q lacks file:line", l)
				}
			}
		})
	}
}

func TestParseReportsAllProblemsInLineOrder(t *testing.T) {
	src := "kind = \"nope\"\nversion = \"1\"\n[limits]\nopen_files = 0\n[entry]\ntype = \"x\"\n"
	_, err := manifest.Parse([]byte(src), "m.toml")
	want := strings.Join([]string{
		`m.toml:1: name: missing (required)`,
		`m.toml:1: kind: must be one of "app", "library", "driver", "service", got "nope"`,
		`m.toml:2: version: "1" is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (need exactly three numbers)`,
		`m.toml:4: limits.open_files: must be between 1 and 65536, got 0`,
		`m.toml:6: entry.type: must be "command" or "reactor", got "x"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if !errors.Is(err, manifest.ErrInvalid) {
		t.Error("joined error does not wrap ErrInvalid")
	}
}

func TestParseTooLarge(t *testing.T) {
	data := append([]byte(header), bytes.Repeat([]byte("# padding\n"), manifest.MaxFileSize/10+1)...)
	_, err := manifest.Parse(data, "big.toml")
	if !errors.Is(err, manifest.ErrInvalid) || !strings.HasPrefix(err.Error(), "big.toml:1: manifest is too large") {
		t.Errorf("err = %v", err)
	}
}

func TestLoad(t *testing.T) {
	m, err := manifest.Load("testdata/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != "testdata/minimal.toml" || m.String() != "hello@0.1.0" {
		t.Errorf("Source = %q, String() = %q", m.Source, m.String())
	}

	_, err = manifest.Load("testdata/does-not-exist.toml")
	if err == nil || errors.Is(err, manifest.ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: err = %v", err)
	}

	bad := filepath.Join(t.TempDir(), "orbital.toml")
	if err := os.WriteFile(bad, []byte(header+"[limits]\nmemory = \"1KiB\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = manifest.Load(bad)
	if want := bad + ":5: limits.memory: 1KiB is not a multiple"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want prefix %q", err, want)
	}
}

// TestGolden parses every testdata/*.toml and compares the result, marshalled
// as JSON, with testdata/*.json. Run with -update to rewrite the JSON files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m, err := manifest.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(m, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".toml") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", file, golden, got)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  string
	}{
		{"0", 0, ""},
		{"65536", 65536, ""},
		{"64KiB", 64 << 10, ""},
		{"64MiB", 64 << 20, ""},
		{"4GiB", 4 << 30, ""},
		{"18446744073709551615", 1<<64 - 1, ""},
		{"18446744073709551616", 0, "too large"},
		{"17179869184GiB", 0, "too large"},
		{"", 0, "invalid size"},
		{"MiB", 0, "invalid size"},
		{"-1", 0, "invalid size"},
		{"+1", 0, "invalid size"},
		{"1.5MiB", 0, "invalid size"},
		{"64mib", 0, "invalid size"},
		{"64 MiB", 0, "invalid size"},
		{" 64MiB", 0, "invalid size"},
		{"1GB", 0, `did you mean "1GiB"?`},
		{"1KB", 0, `did you mean "1KiB"?`},
	}
	for _, tt := range tests {
		got, err := manifest.ParseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
		}
	}
	for _, n := range []uint64{0, 1, 1023, 1024, 1536 << 10, 64 << 20, 4 << 30, 1<<64 - 1} {
		s := manifest.FormatSize(n)
		if back, err := manifest.ParseSize(s); err != nil || back != n {
			t.Errorf("ParseSize(FormatSize(%d) = %q) = %d, %v", n, s, back, err)
		}
	}
}

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name           string
		module, export bool // valid as a module name, as a function name
	}{
		{"vision", true, true},
		{"get_2", false, true},
		{"_init", false, true},
		{"a.b-c/d", true, false},
		{"example.com/kv", true, false},
		{"Get", false, false},
		{"2x", false, false},
		{"", false, false},
		{strings.Repeat("a", 64), true, true},
		{strings.Repeat("a", 65), true, false},
		{strings.Repeat("a", 129), false, false},
	}
	for _, tt := range tests {
		if err := manifest.ValidateName(tt.name); (err == nil) != tt.module {
			t.Errorf("ValidateName(%q) = %v", tt.name, err)
		}
		if err := manifest.ValidateExportName(tt.name); (err == nil) != tt.export {
			t.Errorf("ValidateExportName(%q) = %v", tt.name, err)
		}
	}
}

func TestStringNil(t *testing.T) {
	var m *manifest.Manifest
	if m.String() != "<nil>" {
		t.Errorf("nil String() = %q", m.String())
	}
}
