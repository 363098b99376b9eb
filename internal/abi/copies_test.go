package abi_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/abi"
	"github.com/orbitalfoundation/orbital/internal/engine"
)

// The copies of the ABI outside the kernel, relative to this directory.
// The Go SDK's copy is checked by sdk/abi_test.go.
const (
	headerPath = "../../sdk/c/orbital.h"
	docPath    = "../../docs/ABI.md"
)

// headerOnly are the ORB_ macros of the C header that are not ABI
// constants, with the reason.
var headerOnly = map[string]string{
	"ORB_IMPORT":     "the import attribute macro",
	"ORB_CALL_CACHE": "the size of orb_call_simple's binding cache, a compile-time choice of the guest",
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cValue parses a define's value: an integer, possibly in parentheses,
// possibly followed by a comment.
func cValue(s string) (int64, bool) {
	if i := strings.Index(s, "/*"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "//"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	v, err := strconv.ParseInt(s, 0, 64)
	return v, err == nil
}

// TestHeaderConstants: every ABI constant is defined in orbital.h as ORB_
// and its name, with its value; every ORB_ define of the header is an ABI
// constant or listed in headerOnly.
func TestHeaderConstants(t *testing.T) {
	defines := map[string]int64{}
	defineRe := regexp.MustCompile(`^\s*#\s*define\s+(ORB_\w+)(.*)$`)
	for n, line := range strings.Split(read(t, headerPath), "\n") {
		m := defineRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name, rest := m[1], m[2]
		if _, ok := headerOnly[name]; ok {
			continue
		}
		v, ok := cValue(rest)
		switch {
		case strings.HasPrefix(rest, "("):
			t.Errorf("%s:%d: function-like macro %s is not an ABI constant: list it in headerOnly", headerPath, n+1, name)
		case !ok:
			t.Errorf("%s:%d: %s: value %q is not an integer", headerPath, n+1, name, strings.TrimSpace(rest))
		default:
			if _, dup := defines[name]; dup {
				t.Errorf("%s:%d: %s defined twice", headerPath, n+1, name)
			}
			defines[name] = v
		}
	}
	known := map[string]bool{}
	for _, c := range abi.Constants() {
		name := "ORB_" + c.Name
		known[name] = true
		v, ok := defines[name]
		switch {
		case !ok:
			t.Errorf("%s does not define %s (%d, %s)", headerPath, name, c.Value, c.Meaning)
		case v != c.Value:
			t.Errorf("%s: %s = %d, internal/abi %s = %d", headerPath, name, v, c.Name, c.Value)
		}
	}
	for name, v := range defines {
		if !known[name] {
			t.Errorf("%s defines %s = %d, which internal/abi does not know: add it there (or to headerOnly if it is no ABI constant)", headerPath, name, v)
		}
	}
}

// cType maps a C parameter or result type of orbital.h to a wasm value
// type: pointers and 32-bit integers are i32.
func cType(decl string) (string, bool) {
	if strings.Contains(decl, "*") {
		return abi.I32, true
	}
	f := strings.Fields(decl)
	if len(f) == 0 {
		return "", false
	}
	switch f[0] {
	case "int32_t", "uint32_t":
		return abi.I32, true
	case "int64_t", "uint64_t":
		return abi.I64, true
	}
	return "", false
}

// TestHeaderImports: orbital.h declares every orbital_v1 function as
// orbital_NAME with the ABI's signature, and no other.
func TestHeaderImports(t *testing.T) {
	importRe := regexp.MustCompile(`ORB_IMPORT\("(\w+)"\)\s+([\w\s]+?)\s*\borbital_(\w+)\s*\(([^)]*)\)\s*;`)
	got := map[string]abi.Func{}
	for _, m := range importRe.FindAllStringSubmatch(read(t, headerPath), -1) {
		name, ret, fn, params := m[1], strings.TrimSpace(m[2]), m[3], strings.TrimSpace(m[4])
		if fn != name {
			t.Errorf("%s: import %q is declared as orbital_%s", headerPath, name, fn)
		}
		f := abi.Func{Name: name}
		if ret != "void" {
			v, ok := cType(ret)
			if !ok {
				t.Errorf("%s: orbital_%s returns %q", headerPath, fn, ret)
			}
			f.Results = []string{v}
		}
		if params != "void" && params != "" {
			for _, p := range strings.Split(params, ",") {
				v, ok := cType(p)
				if !ok {
					t.Errorf("%s: orbital_%s: parameter %q", headerPath, fn, strings.TrimSpace(p))
				}
				f.Params = append(f.Params, v)
			}
		}
		got[name] = f
	}
	compareFuncs(t, headerPath, got, nil)
}

// compareFuncs checks the functions a copy declares against abi.Functions
// in both directions. skip lists the functions the copy may leave out.
func compareFuncs(t *testing.T, where string, got map[string]abi.Func, skip map[string]bool) {
	t.Helper()
	want := map[string]bool{}
	for _, f := range abi.Functions() {
		want[f.Name] = true
		g, ok := got[f.Name]
		switch {
		case !ok && !skip[f.Name]:
			t.Errorf("%s does not declare %s.%s", where, abi.ModuleName, f.Name)
		case ok && (!slices.Equal(g.Params, f.Params) || !slices.Equal(g.Results, f.Results)):
			t.Errorf("%s: %s is %s, internal/abi says %s", where, f.Name, sig(g), sig(f))
		}
	}
	for name := range got {
		if !want[name] {
			t.Errorf("%s declares %s.%s, which internal/abi does not know", where, abi.ModuleName, name)
		}
	}
}

func sig(f abi.Func) string {
	return "(" + strings.Join(f.Params, ", ") + ") -> (" + strings.Join(f.Results, ", ") + ")"
}

// TestHeaderStrerror: orb_strerror names every error code with the ABI's
// text, and no other.
func TestHeaderStrerror(t *testing.T) {
	caseRe := regexp.MustCompile(`case\s+(ORB_ERR_\w+)\s*:\s*return\s+"([^"]*)"\s*;`)
	src := read(t, headerPath)
	start := strings.Index(src, "orb_strerror(int32_t code)")
	if start < 0 {
		t.Fatalf("%s: no orb_strerror", headerPath)
	}
	body := src[start:]
	if end := strings.Index(body, "\n}\n"); end >= 0 {
		body = body[:end]
	}
	got := map[string]string{}
	for _, m := range caseRe.FindAllStringSubmatch(body, -1) {
		got[m[1]] = m[2]
	}
	for _, c := range abi.Constants() {
		if c.Group != abi.GroupError {
			continue
		}
		name := "ORB_" + c.Name
		text, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: orb_strerror has no case %s", headerPath, name)
		case text != c.Text:
			t.Errorf("%s: orb_strerror(%s) = %q, internal/abi says %q", headerPath, name, text, c.Text)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("%s: orb_strerror names %s, which internal/abi does not know", headerPath, name)
	}
}

// TestDoc: docs/ABI.md's table of error codes and its tables of functions
// agree with internal/abi, in both directions.
func TestDoc(t *testing.T) {
	doc := read(t, docPath)
	codeRe := regexp.MustCompile("(?m)^\\| (-?\\d+) \\| `(ERR_\\w+)` \\|")
	codes := map[string]int64{}
	for _, m := range codeRe.FindAllStringSubmatch(doc, -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		codes[m[2]] = v
	}
	for _, c := range abi.Constants() {
		if c.Group != abi.GroupError {
			continue
		}
		v, ok := codes[c.Name]
		switch {
		case !ok:
			t.Errorf("%s: the error table has no %s", docPath, c.Name)
		case v != c.Value:
			t.Errorf("%s: %s is %d, internal/abi says %d", docPath, c.Name, v, c.Value)
		}
		delete(codes, c.Name)
	}
	for name := range codes {
		t.Errorf("%s lists %s, which internal/abi does not know", docPath, name)
	}

	fnRe := regexp.MustCompile("(?m)^\\| `(\\w+)` \\| `\\(([^)]*)\\) -> (\\(\\)|i32|i64)` \\|")
	got := map[string]abi.Func{}
	for _, m := range fnRe.FindAllStringSubmatch(doc, -1) {
		f := abi.Func{Name: m[1]}
		if m[3] != "()" {
			f.Results = []string{m[3]}
		}
		if p := strings.TrimSpace(m[2]); p != "" {
			for _, param := range strings.Split(p, ",") {
				w := strings.Fields(param)
				f.Params = append(f.Params, w[len(w)-1])
			}
		}
		got[f.Name] = f
	}
	compareFuncs(t, docPath, got, nil)
}

// TestEngine: the engine's constants are internal/abi's, and it provides
// every orbital_v1 function with the ABI's signature: a module importing
// all of them compiles and instantiates (wazero refuses an import whose
// signature differs from the host function's).
func TestEngine(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"ErrCodeDenied", engine.ErrCodeDenied, abi.ErrDenied},
		{"ErrCodeInvalid", engine.ErrCodeInvalid, abi.ErrInvalid},
		{"ErrCodeTooBig", engine.ErrCodeTooBig, abi.ErrTooBig},
		{"ErrCodeNotFound", engine.ErrCodeNotFound, abi.ErrNotFound},
		{"ErrCodeTimeout", engine.ErrCodeTimeout, abi.ErrTimeout},
		{"ErrCodeLimit", engine.ErrCodeLimit, abi.ErrLimit},
		{"ErrCodeClosed", engine.ErrCodeClosed, abi.ErrClosed},
		{"ErrCodeBuffer", engine.ErrCodeBuffer, abi.ErrBuffer},
		{"ErrCodeCycle", engine.ErrCodeCycle, abi.ErrCycle},
		{"ErrCodeFailed", engine.ErrCodeFailed, abi.ErrFailed},
		{"ErrCodeCrashed", engine.ErrCodeCrashed, abi.ErrCrashed},
		{"ErrCodeVersion", engine.ErrCodeVersion, abi.ErrVersion},
		{"KindPublish", int64(engine.KindPublish), abi.KindPublish},
		{"KindSend", int64(engine.KindSend), abi.KindSend},
		{"KindRequest", int64(engine.KindRequest), abi.KindRequest},
		{"EnvelopeHeader", engine.EnvelopeHeader, abi.EnvelopeHeader},
		{"CallHeader", engine.CallHeader, abi.CallHeader},
		{"ServeNone", engine.ServeNone, abi.ServeNone},
		{"ServeOK", engine.ServeOK, abi.ServeOK},
		{"ServeFailed", engine.ServeFailed, abi.ServeFailed},
		{"MaxBindings", engine.MaxBindings, abi.MaxBindings},
		{"MaxLogLine", engine.MaxLogLine, abi.MaxLogLine},
	} {
		if c.got != c.want {
			t.Errorf("engine.%s = %d, internal/abi says %d", c.name, c.got, c.want)
		}
	}
	if engine.HostModuleName != abi.ModuleName {
		t.Errorf("engine.HostModuleName = %q, internal/abi says %q", engine.HostModuleName, abi.ModuleName)
	}

	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	m, err := e.Compile(ctx, importAll(abi.Functions()), engine.CompileOptions{Name: "abi"})
	if err != nil {
		t.Fatalf("the engine lacks ABI functions: %v", err)
	}
	inst, err := e.Instantiate(ctx, m, engine.Spec{Name: "abi"})
	if err != nil {
		t.Fatalf("the engine's functions differ from the ABI's signatures: %v", err)
	}
	_ = inst.Close(ctx)
}

// importAll returns a wasm module that imports every function of fns from
// orbital_v1, each with its own type, and does nothing else.
func importAll(fns []abi.Func) []byte {
	uleb := func(b []byte, v int) []byte {
		for v >= 0x80 {
			b = append(b, byte(v)|0x80)
			v >>= 7
		}
		return append(b, byte(v))
	}
	name := func(b []byte, s string) []byte { return append(uleb(b, len(s)), s...) }
	valtypes := func(b []byte, vs []string) []byte {
		b = uleb(b, len(vs))
		for _, v := range vs {
			t := byte(0x7f) // i32
			if v == abi.I64 {
				t = 0x7e
			}
			b = append(b, t)
		}
		return b
	}
	types, imports := uleb(nil, len(fns)), uleb(nil, len(fns))
	for i, f := range fns {
		types = valtypes(valtypes(append(types, 0x60), f.Params), f.Results)
		imports = uleb(append(name(name(imports, abi.ModuleName), f.Name), 0x00), i)
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(uleb(append(out, 1), len(types)), types...)
	return append(uleb(append(out, 2), len(imports)), imports...)
}
