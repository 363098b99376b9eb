package orbital

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/abi"
)

// The SDK keeps its own copy of the orbital_v1 constants (a guest compiles
// this package, not the kernel's); these tests compare it with
// internal/abi, the single source, in both directions. internal/abi's
// tests check the C header and docs/ABI.md.

// sdkConstants maps the ABI's names to the SDK's constants.
var sdkConstants = map[string]int64{
	"ERR_DENIED":      codeDenied,
	"ERR_INVALID":     codeInvalid,
	"ERR_TOO_BIG":     codeTooBig,
	"ERR_NOT_FOUND":   codeNotFound,
	"ERR_TIMEOUT":     codeTimeout,
	"ERR_LIMIT":       codeLimit,
	"ERR_CLOSED":      codeClosed,
	"ERR_BUFFER":      codeBuffer,
	"ERR_CYCLE":       codeCycle,
	"ERR_FAILED":      codeFailed,
	"ERR_CRASHED":     codeCrashed,
	"ERR_VERSION":     codeVersion,
	"ERR_UNAVAILABLE": codeUnavailable,

	"KIND_PUBLISH": int64(KindPublish),
	"KIND_SEND":    int64(KindSend),
	"KIND_REQUEST": int64(KindRequest),

	"DEBUG": int64(LevelDebug),
	"INFO":  int64(LevelInfo),
	"WARN":  int64(LevelWarn),
	"ERROR": int64(LevelError),

	"FOREVER": timeoutForever,
	"POLL":    timeoutPoll,

	"CALL_HEADER":     callHeader,
	"ENVELOPE_HEADER": envelopeHeader,

	"SERVE_NONE":   serveNone,
	"SERVE_OK":     serveOK,
	"SERVE_FAILED": serveFailed,
}

// notInSDK are the groups of ABI constants the SDK has no use for: the
// kernel enforces the limits, and the SDK documents them in prose. The
// raster constants live in sdk/raster, whose tests check them.
var notInSDK = map[abi.Group]bool{abi.GroupLimit: true, abi.GroupRaster: true}

func TestABIConstants(t *testing.T) {
	known := map[string]bool{}
	for _, c := range abi.Constants() {
		known[c.Name] = true
		v, ok := sdkConstants[c.Name]
		switch {
		case notInSDK[c.Group]:
			if ok {
				t.Errorf("%s is mapped, but its group %s is listed in notInSDK", c.Name, c.Group)
			}
		case !ok:
			t.Errorf("the SDK has no constant for %s (%d, %s): add one and map it in sdkConstants", c.Name, c.Value, c.Meaning)
		case v != c.Value:
			t.Errorf("the SDK's %s = %d, internal/abi says %d", c.Name, v, c.Value)
		}
	}
	for name, v := range sdkConstants {
		if !known[name] {
			t.Errorf("sdkConstants maps %s = %d, which internal/abi does not know", name, v)
		}
	}
	for _, c := range abi.Constants() {
		if c.Group == abi.GroupKind {
			if got := Kind(c.Value).String(); got != c.Text {
				t.Errorf("Kind(%d).String() = %q, internal/abi names it %q", c.Value, got, c.Text)
			}
		}
	}
}

// parse parses one of the SDK's files (build constraints do not matter to
// the parser).
func parse(t *testing.T, file string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// camel turns an ABI name's words into Go's: "NOT_FOUND" → "NotFound".
func camel(name string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(name), "_") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// TestABIErrors: each error code has the ABI's text, errno maps it to an
// Errno of that code, and errors.go declares one Err variable per code
// (except ERR_BUFFER, which the SDK handles itself), named after the code,
// built from the matching code constant and documented with its value.
// errors.go declares no code constant and no Err variable the ABI does not
// know.
func TestABIErrors(t *testing.T) {
	noVar := map[string]bool{"ERR_BUFFER": true}
	f := parse(t, "errors.go")
	consts := map[string]bool{} // code constants declared
	vars := map[string]string{} // Err variable → the code constant it is built from
	docs := map[string]string{} // Err variable → its doc comment
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range g.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for i, n := range vs.Names {
				switch {
				case g.Tok == token.CONST && strings.HasPrefix(n.Name, "code"):
					consts[n.Name] = true
				case g.Tok == token.VAR && strings.HasPrefix(n.Name, "Err") && i < len(vs.Values):
					call, _ := vs.Values[i].(*ast.CallExpr)
					if call == nil || len(call.Args) != 1 {
						t.Errorf("errors.go: %s is not Errno(codeX)", n.Name)
						continue
					}
					fn, _ := call.Fun.(*ast.Ident)
					arg, _ := call.Args[0].(*ast.Ident)
					if fn == nil || fn.Name != "Errno" || arg == nil {
						t.Errorf("errors.go: %s is not Errno(codeX)", n.Name)
						continue
					}
					vars[n.Name] = arg.Name
					docs[n.Name] = strings.Join(strings.Fields(vs.Doc.Text()), " ")
				}
			}
		}
	}

	for _, c := range abi.Constants() {
		if c.Group != abi.GroupError {
			continue
		}
		code := int32(c.Value)
		if got, want := Errno(code).Error(), "orbital: "+c.Text; got != want {
			t.Errorf("Errno(%d).Error() = %q, want %q", code, got, want)
		}
		for _, err := range []error{errno(code), errno(int64(code))} {
			if e, ok := err.(Errno); !ok || e.Code() != code {
				t.Errorf("errno(%d) = %#v, want the Errno %d", code, err, code)
			}
		}
		short := camel(strings.TrimPrefix(c.Name, "ERR_"))
		cname := "code" + short
		if !consts[cname] {
			t.Errorf("errors.go declares no %s for %s", cname, c.Name)
		}
		delete(consts, cname)
		vname := "Err" + short
		from, ok := vars[vname]
		delete(vars, vname)
		switch {
		case noVar[c.Name]:
			if ok {
				t.Errorf("errors.go declares %s, but %s is listed as having no variable", vname, c.Name)
			}
			continue
		case !ok:
			t.Errorf("errors.go declares no %s for %s", vname, c.Name)
			continue
		case from != cname:
			t.Errorf("errors.go: %s = Errno(%s), want Errno(%s)", vname, from, cname)
		}
		if want := "ABI code " + strconv.Itoa(int(code)) + "."; !strings.Contains(docs[vname], want) {
			t.Errorf("errors.go: the doc of %s does not say %q: %q", vname, want, docs[vname])
		}
	}
	for name := range consts {
		t.Errorf("errors.go declares %s, which names no code of internal/abi", name)
	}
	for name := range vars {
		t.Errorf("errors.go declares %s, which names no code of internal/abi", name)
	}
}

// TestABIImports: abi_wasip1.go imports the orbital_v1 functions with the
// ABI's signatures (nop aside: it is a benchmark floor, of no use to the
// SDK; and the surface_* functions, which sdk/raster imports and checks),
// and nothing the ABI does not know.
func TestABIImports(t *testing.T) {
	skip := map[string]bool{"nop": true}
	for _, f := range abi.Functions() {
		if strings.HasPrefix(f.Name, "surface_") {
			skip[f.Name] = true
		}
	}
	wasm := func(e ast.Expr) string {
		switch x := e.(type) {
		case *ast.Ident:
			switch x.Name {
			case "int32", "uint32":
				return abi.I32
			case "int64", "uint64":
				return abi.I64
			}
		case *ast.SelectorExpr:
			if p, ok := x.X.(*ast.Ident); ok && p.Name == "unsafe" && x.Sel.Name == "Pointer" {
				return abi.I32 // wasm32
			}
		}
		return "?"
	}
	types := func(fl *ast.FieldList) []string {
		var out []string
		if fl == nil {
			return nil
		}
		for _, fd := range fl.List {
			n := max(len(fd.Names), 1)
			for range n {
				out = append(out, wasm(fd.Type))
			}
		}
		return out
	}
	got := map[string]abi.Func{}
	for _, d := range parse(t, "abi_wasip1.go").Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Doc == nil {
			continue
		}
		for _, c := range fd.Doc.List {
			rest, ok := strings.CutPrefix(c.Text, "//go:wasmimport ")
			if !ok {
				continue
			}
			mod, name, _ := strings.Cut(strings.TrimSpace(rest), " ")
			if mod != abi.ModuleName {
				t.Errorf("abi_wasip1.go: %s imports from %q, want %q", fd.Name.Name, mod, abi.ModuleName)
			}
			if _, dup := got[name]; dup {
				t.Errorf("abi_wasip1.go imports %s twice", name)
			}
			got[name] = abi.Func{Name: name, Params: types(fd.Type.Params), Results: types(fd.Type.Results)}
		}
	}
	sig := func(f abi.Func) string {
		return "(" + strings.Join(f.Params, ", ") + ") -> (" + strings.Join(f.Results, ", ") + ")"
	}
	for _, f := range abi.Functions() {
		g, ok := got[f.Name]
		delete(got, f.Name)
		switch {
		case !ok && !skip[f.Name]:
			t.Errorf("abi_wasip1.go does not import %s.%s %s", abi.ModuleName, f.Name, sig(f))
		case ok && sig(g) != sig(f):
			t.Errorf("abi_wasip1.go: %s is %s, internal/abi says %s", f.Name, sig(g), sig(f))
		}
	}
	for name := range got {
		t.Errorf("abi_wasip1.go imports %s.%s, which internal/abi does not know", abi.ModuleName, name)
	}
}
