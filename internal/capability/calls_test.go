package capability_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
)

// deps is a [dependencies] table used by the call tests.
const deps = `[dependencies]
vision = "^1.2"
kv = { version = "^1", functions = ["get", "put"] }
cache = { version = "*", optional = true }
"demo.echo" = "~2.0"
"example.com/geo" = { version = ">= 1, < 3", functions = ["near"] }
`

func TestValidateCall(t *testing.T) {
	tests := []struct {
		in  string
		err string // "" = valid
	}{
		{"*", ""},
		{"vision", ""},
		{"vision.blur", ""},
		{"vision._x2", ""},
		{"vision.*", ""},
		{"demo.echo.*", ""},
		{"demo.echo.send", ""},
		{"example.com/geo", ""},
		{"example.com/geo.near", ""},
		{"example.com/geo.*", ""},
		{"", `"" is not LIB, LIB.FUNCTION, LIB.* or *`},
		{"Vision", `"Vision" is not LIB, LIB.FUNCTION, LIB.* or * (LIB a module name such as "vision" or "example.com/kv", FUNCTION a function name such as "blur")`},
		{"vision.Blur", `"vision.Blur" is not LIB`},
		{"vision.", `"vision." is not LIB`},
		{".blur", `".blur" is not LIB`},
		{"vision.blur-x", ""},                     // the library vision.blur-x
		{"vision." + strings.Repeat("a", 65), ""}, // a library too: function names are at most 64 characters
		{"vision.Blur-x", `"vision.Blur-x" is not LIB`},
		{"**", `"**" is not LIB`},
		{"*.*", `"*.*": library "*" is not a valid module name`},
		{"vision..*", `"vision..*": library "vision." is not a valid module name`},
		{"vision blur", `"vision blur" is not LIB`},
	}
	for _, tt := range tests {
		err := capability.ValidateCall(tt.in)
		got, ferr := capability.ParseCallFlag(tt.in)
		if tt.err == "" {
			if err != nil || ferr != nil || got != tt.in {
				t.Errorf("ValidateCall(%q) = %v; ParseCallFlag = %q, %v", tt.in, err, got, ferr)
			}
			continue
		}
		if err == nil || !errors.Is(err, capability.ErrInvalidGrant) || !strings.HasPrefix(err.Error(), "invalid grant: "+tt.err) {
			t.Errorf("ValidateCall(%q) = %v, want ErrInvalidGrant with %q", tt.in, err, tt.err)
		}
		if ferr == nil || !errors.Is(ferr, capability.ErrInvalidGrant) || !strings.HasPrefix(ferr.Error(), "invalid grant: --call "+tt.err) || got != "" {
			t.Errorf("ParseCallFlag(%q) = %q, %v, want ErrInvalidGrant with %q", tt.in, got, ferr, tt.err)
		}
	}
}

func TestResolveCalls(t *testing.T) {
	type call struct {
		lib, ranges string
		fns         []string
		optional    bool
	}
	tests := []struct {
		name     string
		manifest string // appended to the standard header
		calls    []string
		want     []call
		notes    []string
		err      string
	}{
		{
			name:     "nothing granted",
			manifest: deps,
			notes: []string{
				`optional dependency cache was not granted; the module runs without it (grant with calls = ["cache"] or --call cache)`,
				`calls to demo.echo not granted (grant with calls = ["demo.echo.*"] or --call demo.echo.*)`,
				`calls to example.com/geo not granted (grant with calls = ["example.com/geo"] or --call example.com/geo)`,
				`calls to kv not granted (grant with calls = ["kv"] or --call kv)`,
				`calls to vision not granted (grant with calls = ["vision"] or --call vision)`,
			},
		},
		{
			name:     "everything",
			manifest: deps,
			calls:    []string{"*"},
			want: []call{
				{"cache", "*", nil, true},
				{"demo.echo", "~2.0", nil, false},
				{"example.com/geo", ">= 1, < 3", []string{"near"}, false},
				{"kv", "^1", []string{"get", "put"}, false},
				{"vision", "^1.2", nil, false},
			},
		},
		{
			name:     "by library and function",
			manifest: deps,
			calls:    []string{"vision.blur", "vision.sharpen", "vision.blur", "kv", "demo.echo.*", "example.com/geo", "cache.get"},
			want: []call{
				{"cache", "*", []string{"get"}, true},
				{"demo.echo", "~2.0", nil, false},
				{"example.com/geo", ">= 1, < 3", []string{"near"}, false},
				{"kv", "^1", []string{"get", "put"}, false},
				{"vision", "^1.2", []string{"blur", "sharpen"}, false},
			},
		},
		{
			name:     "function intersection",
			manifest: deps,
			calls:    []string{"kv.put", "kv.delete", "*"},
			want: []call{
				{"cache", "*", nil, true},
				{"demo.echo", "~2.0", nil, false},
				{"example.com/geo", ">= 1, < 3", []string{"near"}, false},
				{"kv", "^1", []string{"get", "put"}, false},
				{"vision", "^1.2", nil, false},
			},
		},
		{
			name:     "partial functions",
			manifest: deps,
			calls:    []string{"kv.put", "kv.delete", "vision"},
			want: []call{
				{"kv", "^1", []string{"put"}, false},
				{"vision", "^1.2", nil, false},
			},
			notes: []string{
				`optional dependency cache was not granted`,
				`calls to demo.echo not granted`,
				`calls to example.com/geo not granted`,
				`granted call kv.delete is ignored: the module does not list delete in dependencies.kv.functions`,
				`call kv.get not granted (grant with calls = ["kv.get"] or --call kv.get)`,
			},
		},
		{
			name:     "empty intersection",
			manifest: "[dependencies]\n\"example.com/geo\" = { version = \"^1\", functions = [\"near\"] }\n",
			calls:    []string{"example.com/geo.far"},
			notes: []string{
				`granted call example.com/geo.far is ignored: the module does not list far in dependencies."example.com/geo".functions`,
				`calls to example.com/geo are left out: none of the functions the module calls (near) is granted`,
			},
		},
		{
			name:     "granted but not declared",
			manifest: "[dependencies]\nvision = \"^1\"\n\"demo.echo\" = \"^1\"\n",
			calls:    []string{"vision", "kv.get", "demo.echo"},
			want:     []call{{"vision", "^1", nil, false}},
			notes: []string{
				`calls to demo.echo not granted (grant with calls = ["demo.echo.*"] or --call demo.echo.*)`,
				`granted calls to demo are ignored: demo is not a declared dependency of "shrink" (demo.echo names function echo of library demo; to grant library demo.echo write "demo.echo.*")`,
				`granted calls to kv are ignored: kv is not a declared dependency of "shrink"`,
			},
		},
		{
			name:  "no dependencies",
			calls: []string{"*"},
		},
		{
			name:  "invalid entry",
			calls: []string{"vision", "Bad!", "x."},
			err:   "invalid grant: calls: \"Bad!\" is not LIB, LIB.FUNCTION, LIB.* or * (LIB a module name such as \"vision\" or \"example.com/kv\", FUNCTION a function name such as \"blur\")\ninvalid grant: calls: \"x.\" is not LIB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := stdio()
			g.Calls = tt.calls
			s, err := capability.Resolve(mf(t, tt.manifest), g)
			if tt.err != "" {
				if err == nil || !errors.Is(err, capability.ErrInvalidGrant) || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []call
			for _, c := range s.Calls {
				if c.Constraint == nil || c.Constraint.String() == "" {
					t.Errorf("call grant %+v has no constraint", c)
				}
				got = append(got, call{c.Library, c.Range, c.Functions, c.Optional})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("calls =\n%+v\nwant\n%+v", got, tt.want)
			}
			checkNotes(t, s.Notes, tt.notes)
		})
	}
}

func TestResolveCallsWithoutManifest(t *testing.T) {
	s, err := capability.Resolve(nil, capability.Grant{Calls: []string{"vision.blur", "kv", "kv.get", "vision.sharpen", "*"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []capability.CallGrant{
		{Library: "kv"},
		{Library: "vision", Functions: []string{"blur", "sharpen"}},
	}
	if !reflect.DeepEqual(s.Calls, want) {
		t.Errorf("calls = %+v", s.Calls)
	}
	checkNotes(t, s.Notes, []string{`calls = ["*"] grants nothing here: the module has no manifest`})
	if _, err := s.CallAllowed("kv", "anything"); err != nil {
		t.Error(err)
	}
	if _, err := s.CallAllowed("vision", "blur"); err != nil {
		t.Error(err)
	}
	_, err = s.CallAllowed("vision", "crop")
	if want := `vision.crop: not granted; grant with --call vision.crop (or calls = ["vision.crop"] in the node config)`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if _, err := capability.Resolve(nil, capability.Grant{Calls: []string{"."}}); !errors.Is(err, capability.ErrInvalidGrant) {
		t.Errorf("err = %v", err)
	}
}

func TestCallAllowed(t *testing.T) {
	g := stdio()
	g.Calls = []string{"vision.blur", "kv", "cache", "demo.echo.*"}
	s, err := capability.Resolve(mf(t, deps), g)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lib, fn string
		err     string // "" = allowed
	}{
		{"vision", "blur", ""},
		{"kv", "get", ""},
		{"kv", "put", ""},
		{"cache", "anything", ""},
		{"demo.echo", "send", ""},
		{"vision", "sharpen", `vision.sharpen: not granted; grant with --call vision.sharpen (or calls = ["vision.sharpen"] in the node config)`},
		{"example.com/geo", "near", `example.com/geo.near: not granted; grant with --call example.com/geo.near (or calls = ["example.com/geo.near"] in the node config)`},
		{"kv", "delete", `kv.delete: delete is not among the functions "shrink" declares for kv (dependencies.kv.functions)`},
		{"example.com/geo", "far", `example.com/geo.far: far is not among the functions "shrink" declares for example.com/geo (dependencies."example.com/geo".functions)`},
		{"audio", "play", `audio.play: not a declared dependency of "shrink" (add audio to [dependencies] in its manifest)`},
		{"demo", "echo", `demo.echo: not a declared dependency of "shrink" (add demo to [dependencies] in its manifest)`},
		{"Vision", "blur", `"Vision"."blur": not a valid library and function name`},
		{"vision", "", `"vision"."": not a valid library and function name`},
		{"vision", "a\nb", `"vision"."a\nb": not a valid library and function name`},
	}
	for _, tt := range tests {
		c, err := s.CallAllowed(tt.lib, tt.fn)
		if tt.err == "" {
			if err != nil || c.Library != tt.lib || !c.Allows(tt.fn) {
				t.Errorf("CallAllowed(%q, %q) = %+v, %v", tt.lib, tt.fn, c, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.err {
			t.Errorf("CallAllowed(%q, %q) error:\n  %v\nwant:\n  %s", tt.lib, tt.fn, err, tt.err)
		}
		if !errors.Is(err, api.ErrPermissionDenied) || !errors.Is(err, capability.ErrNotGranted) {
			t.Errorf("CallAllowed(%q, %q) error %v does not wrap ErrPermissionDenied and ErrNotGranted", tt.lib, tt.fn, err)
		}
		if !reflect.DeepEqual(c, capability.CallGrant{}) {
			t.Errorf("CallAllowed(%q, %q) returned %+v with an error", tt.lib, tt.fn, c)
		}
	}

	// A hand-built set (no manifest) only knows its grants.
	var empty capability.Set
	if _, err := empty.CallAllowed("vision", "blur"); err == nil || !strings.Contains(err.Error(), "not granted; grant with --call vision.blur") {
		t.Errorf("err = %v", err)
	}
}

// FuzzParseCallFlag: ParseCallFlag never panics, accepts what ValidateCall
// accepts, and returns its input unchanged.
func FuzzParseCallFlag(f *testing.F) {
	for _, s := range []string{"*", "vision", "vision.blur", "demo.echo.*", "example.com/geo.near", "", ".", "a..b", "*.*", "vision.Blur"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := capability.ParseCallFlag(s)
		verr := capability.ValidateCall(s)
		if (err == nil) != (verr == nil) {
			t.Fatalf("ParseCallFlag(%q) = %v but ValidateCall = %v", s, err, verr)
		}
		if err != nil {
			if !errors.Is(err, capability.ErrInvalidGrant) || got != "" {
				t.Fatalf("ParseCallFlag(%q) = %q, %v", s, got, err)
			}
			return
		}
		if got != s {
			t.Fatalf("ParseCallFlag(%q) = %q", s, got)
		}
	})
}
