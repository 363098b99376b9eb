package shape_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orbitalfoundation/orbital/internal/shape"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec, canonical string
		bytes           bool
	}{
		{"bytes", "bytes", true},
		{"  bytes\n", "bytes", true},
		{"string", "string", false},
		{"json", "json", false},
		{"bool", "bool", false},
		{"int", "int", false},
		{"float", "float", false},
		{"string?", "string?", false},
		{"null", "null", false},
		{"null?", "null", false},
		{"any", "any", false},
		{"any?", "any", false},
		{"int??", "int?", false},
		{"[int]", "[int]", false},
		{"[ [ float ] ? ]", "[[float]?]", false},
		{"{}", "{}", false},
		{"{ }?", "{}?", false},
		{"{w:int,h:int}", "{w: int, h: int}", false},
		{"{\n\tw: int,\n\th?: int?,\n\tpixels: [int]\n}", "{w: int, h?: int?, pixels: [int]}", false},
		{"{ _A9 ? : { b : [ any ] } }", "{_A9?: {b: [any]}}", false},
		{"{" + strings.Repeat("x", 64) + ": int}", "{" + strings.Repeat("x", 64) + ": int}", false},
		{strings.Repeat("[", 32) + "int" + strings.Repeat("]", 32), strings.Repeat("[", 32) + "int" + strings.Repeat("]", 32), false},
		{"{a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int}", "{a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int}", false},
	}
	for _, tt := range tests {
		s, err := shape.Parse(tt.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		if got := s.String(); got != tt.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.spec, got, tt.canonical)
		}
		if s.IsBytes() != tt.bytes {
			t.Errorf("Parse(%q).IsBytes() = %v", tt.spec, s.IsBytes())
		}
		again, err := shape.Parse(s.String())
		if err != nil || !reflect.DeepEqual(s, again) {
			t.Errorf("Parse(%q) does not round-trip through %q: %v", tt.spec, s.String(), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, err string }{
		{"", `shape "": at byte 0: empty shape`},
		{"   ", `shape "   ": at byte 3: empty shape`},
		{"integer", `shape "integer": at byte 0: unknown type "integer" (want bool, int, float, string, null, any, [T] or {…})`},
		{"Int", `unknown type "Int"`},
		{"[bytes]", `at byte 1: bytes is only allowed as the whole shape`},
		{"bytes?", `at byte 0: bytes is only allowed as the whole shape`},
		{"{a: json}", `at byte 4: json is only allowed as the whole shape (use any inside a type)`},
		{"[int", `at byte 4: want "]" to close the array, got end of shape`},
		{"[int,float]", `at byte 4: want "]" to close the array, got ','`},
		{"{a int}", `at byte 3: want ":" after field name a, got 'i'`},
		{"{a: int,}", `at byte 8: want a field name, got '}'`},
		{"{a: int b: int}", `at byte 8: want ',' or '}' after field a, got 'b'`},
		{"{a: int, a?: float}", `at byte 9: field a is declared twice`},
		{"{1a: int}", `want a field name, got '1'`},
		{"{a-b: int}", `want ":" after field name a, got '-'`},
		{"{" + strings.Repeat("x", 65) + ": int}", `at byte 1: field name is too long (65 characters, at most 64)`},
		{"int int", `at byte 4: unexpected 'i' after the shape`},
		{"bytes string", `at byte 0: bytes is only allowed as the whole shape`},
		{"?", `at byte 0: want a type`},
		{"[]", `at byte 1: want a type`},
		{"{a: }", `at byte 4: want a type`},
		{"int\x00", `unexpected '\x00' after the shape`},
		{strings.Repeat("[", 33) + "int" + strings.Repeat("]", 33), `at byte 32: nested too deeply (at most 32 arrays and objects)`},
		{strings.Repeat("{a:", 40), `nested too deeply`},
		{strings.Repeat(" ", 4097), `too long (4097 bytes, at most 4096)`},
	}
	for _, tt := range tests {
		s, err := shape.Parse(tt.spec)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error containing %q", tt.spec, s, tt.err)
			continue
		}
		if s != nil {
			t.Errorf("Parse(%q) returned a shape with an error", tt.spec)
		}
		if !errors.Is(err, shape.ErrSyntax) || errors.Is(err, shape.ErrMismatch) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSyntax alone", tt.spec, err)
		}
		if !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Parse(%q) error:\n  %v\nwant it to contain:\n  %s", tt.spec, err, tt.err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		spec, data string
		err        string // "" = valid; otherwise the exact error
	}{
		{"bytes", "\xff\x00anything", ""},
		{"string", "héllo", ""},
		{"string", "", ""},
		{"string", `"quoted is fine too"`, ""},
		{"string", "ab\xffc", `shape string: not valid UTF-8 (at byte 2)`},
		{"json", ` {"a": [1, 2.5, null]} `, ""},
		{"json", `{"a": }`, `shape json: not valid JSON: invalid character '}' looking for beginning of value (after 7 bytes)`},
		{"json", ``, `shape json: not valid JSON: unexpected end of data`},
		{"json", `1 2`, `shape json: not valid JSON: invalid character '2' after top-level value (after 3 bytes)`},

		{"int", "42", ""},
		{"int", " -9223372036854775808\n", ""},
		{"int", "9223372036854775808", `shape int: want int, got number 9223372036854775808 (out of the int64 range)`},
		{"int", "1.0", `shape int: want int, got number 1.0 (not written as an integer)`},
		{"int", "1e3", `shape int: want int, got number 1e3 (not written as an integer)`},
		{"int", `"1"`, `shape int: want int, got string`},
		{"int", "null", `shape int: want int, got null`},
		{"int?", "null", ""},
		{"int?", "true", `shape int?: want int or null, got bool`},
		{"float", "1.5e300", ""},
		{"float", "1e400", ""},
		{"float", "-0", ""},
		{"float", "NaN", `shape float: invalid JSON: invalid character 'N' looking for beginning of value`},
		{"bool", "false", ""},
		{"bool", "0", `shape bool: want bool, got number 0`},
		{"string?", `"x"`, ""},
		{"string?", `x`, `shape string?: invalid JSON: invalid character 'x' looking for beginning of value`},
		{"null", "null", ""},
		{"null", "{}", `shape null: want null, got object`},
		{"any", `[{"deep": [1, {"x": null}]}]`, ""},
		{"any", `null`, ""},
		{"any", `[1, 2`, `shape any: invalid JSON: unexpected end of data`},

		{"int", "", `shape int: invalid JSON: unexpected end of data`},
		{"int", "   ", `shape int: invalid JSON: unexpected end of data`},
		{"int", "1 2", `shape int: unexpected data at byte 2 after the JSON value`},
		{"int", "1 x", `shape int: unexpected data at byte 2 after the JSON value`},
		{"int", "1 ", ""},

		{"[int]", "[]", ""},
		{"[int]", "[1, 2, 3]", ""},
		{"[int]", `[1, "2"]`, `shape [int]: at [1]: want int, got string`},
		{"[int]", `[1, 2,]`, `shape [int]: at [2]: invalid JSON: invalid character ']' looking for beginning of value`},
		{"[int]", `[1 2]`, `shape [int]: at [1]: invalid JSON: expected comma after array element`},
		{"[int]", `{"a": 1}`, `shape [int]: want array, got object`},
		{"[int]?", `null`, ""},
		{"[int?]", `[null, 1]`, ""},
		{"[[int]]", `[[1], [2, 3.5]]`, `shape [[int]]: at [1][1]: want int, got number 3.5 (not written as an integer)`},

		{"{w: int, h: int}", `{"w": 1, "h": 2}`, ""},
		{"{w: int, h: int}", `{"h": 2, "w": 1}`, ""},
		{"{w: int}", `{"w": "wide"}`, `shape {w: int}: at .w: want int, got string`},
		{"{w: int, h: int}", `{"w": 1}`, `shape {w: int, h: int}: missing key "h"`},
		{"{w: int}", `{"w": 1, "x": 2}`, `shape {w: int}: unknown key "x" (allowed: w)`},
		{"{}", `{"x": 2}`, `shape {}: unknown key "x" (allowed: none)`},
		{"{}", `{}`, ""},
		{"{w: int}", `{"w": 1, "w": 2}`, `shape {w: int}: key "w" appears twice`},
		{"{w: int}", `[1]`, `shape {w: int}: want object, got array`},
		{"{w?: int}", `{}`, ""},
		{"{w?: int}", `{"w": null}`, `shape {w?: int}: at .w: want int, got null`},
		{"{w?: int?}", `{"w": null}`, ""},
		{"{w: int}", `{"w": 1,}`, `shape {w: int}: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{"{w: int}", `{w: 1}`, `shape {w: int}: invalid JSON: invalid character 'w'`},
		{"{meta: any, id: int}", `{"meta": {"a": [1, {"b": 2}]}, "id": 7}`, ""},
		{"{meta: any, id: int}", `{"meta": {"a": [1, {"b": 2}]}, "id": 7.5}`, `shape {meta: any, id: int}: at .id: want int, got number 7.5 (not written as an integer)`},
		{
			"{name: string, pixels: [{r: int, g: int, b: int}]}",
			`{"name": "x", "pixels": [{"r": 1, "g": 2, "b": 3}, {"r": 1, "g": 2, "b": 3}, {"r": 1, "g": 2, "b": 3}, {"r": 1, "g": "2", "b": 3}]}`,
			`shape {name: string, pixels: [{r: int, g: int, b: int}]}: at .pixels[3].g: want int, got string`,
		},
		{
			"{a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int, i: int, j: int}",
			`{"j": 1, "i": 1, "h": 1, "g": 1, "f": 1, "e": 1, "d": 1, "c": 1, "b": 1, "a": 1, "k": 1}`,
			`unknown key "k" (allowed: a, b, c, d, e, f, g, h, …)`,
		},
	}
	for _, tt := range tests {
		s, err := shape.Parse(tt.spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.spec, err)
		}
		err = s.Validate([]byte(tt.data))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s.Validate(%q): %v", tt.spec, tt.data, err)
		case tt.err != "" && err == nil:
			t.Errorf("%s.Validate(%q) succeeded, want %q", tt.spec, tt.data, tt.err)
		case tt.err != "" && !strings.HasSuffix(err.Error(), tt.err) && err.Error() != tt.err:
			t.Errorf("%s.Validate(%q) error:\n  %v\nwant:\n  %s", tt.spec, tt.data, err, tt.err)
		case err != nil && (!errors.Is(err, shape.ErrMismatch) || errors.Is(err, shape.ErrSyntax)):
			t.Errorf("%s.Validate(%q) error %v does not wrap ErrMismatch alone", tt.spec, tt.data, err)
		}
	}
}

func TestValidateManyFields(t *testing.T) {
	// Objects of more than 64 fields track seen keys differently.
	var spec, data, missing strings.Builder
	spec.WriteString("{")
	data.WriteString("{")
	missing.WriteString("{")
	for i := 0; i < 70; i++ {
		if i > 0 {
			spec.WriteString(", ")
			data.WriteString(", ")
		}
		name := "f" + strconv.Itoa(i)
		spec.WriteString(name + ": int")
		data.WriteString(`"` + name + `": 1`)
		if i > 0 && i < 69 {
			missing.WriteString(", ")
		}
		if i < 69 {
			missing.WriteString(`"` + name + `": 1`)
		}
	}
	spec.WriteString("}")
	data.WriteString("}")
	missing.WriteString("}")
	s := shape.MustParse(spec.String())
	if err := s.Validate([]byte(data.String())); err != nil {
		t.Fatal(err)
	}
	err := s.Validate([]byte(missing.String()))
	if err == nil || !strings.HasSuffix(err.Error(), `: missing key "f69"`) {
		t.Errorf("err = %v", err)
	}
	if want := "shape " + spec.String()[:61] + "...: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want a shortened shape %q", err, want)
	}
	dup := strings.Replace(data.String(), "}", `, "f0": 2}`, 1)
	if err := s.Validate([]byte(dup)); err == nil || !strings.Contains(err.Error(), `key "f0" appears twice`) {
		t.Errorf("err = %v", err)
	}
}

func TestNilAndBytes(t *testing.T) {
	var s *shape.Shape
	if !s.IsBytes() || s.String() != "bytes" || s.Validate([]byte{0xff}) != nil {
		t.Error("nil shape is not bytes")
	}
	if !shape.Bytes.IsBytes() || shape.Bytes.String() != "bytes" {
		t.Error("shape.Bytes is not bytes")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a bad spec did not panic")
		}
	}()
	shape.MustParse("nope")
}

func TestErrorFields(t *testing.T) {
	err := shape.MustParse("{a: [int]}").Validate([]byte(`{"a": [1, true]}`))
	var e *shape.Error
	if !errors.As(err, &e) || e.Shape != "{a: [int]}" || e.At != ".a[1]" || e.Msg != "want int, got bool" {
		t.Errorf("error = %#v", e)
	}
}

func BenchmarkValidate(b *testing.B) {
	s := shape.MustParse("{w: int, h: int, pixels: [int]}")
	data := []byte(`{"w": 2, "h": 2, "pixels": [` + strings.Repeat("255, ", 1023) + `255]}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(data); err != nil {
			b.Fatal(err)
		}
	}
}

// fuzzSpecs are the shapes FuzzValidate checks data against.
var fuzzSpecs = []string{
	"bytes", "string", "json", "int", "float", "bool", "null", "any", "string?",
	"[int]", "[float?]", "{w: int, h: int}", "{a?: [string], b: {c: bool?}?}",
	"{meta: any, pixels: [[int]]}",
}

// FuzzParse: Parse never panics, errors wrap ErrSyntax, and an accepted
// spec's canonical form parses to the same shape.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSpecs {
		f.Add(s)
	}
	for _, s := range []string{"", "{a: int,}", "[[[int]", "{a?:int??,b:{}}", "int int", "{a: int, a: int}", " { x : [ any ] ? } "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := shape.Parse(spec)
		if err != nil {
			if s != nil || !errors.Is(err, shape.ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, %v", spec, s, err)
			}
			return
		}
		canon := s.String()
		again, err := shape.Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but its String %q does not parse: %v", spec, canon, err)
		}
		if again.String() != canon || !reflect.DeepEqual(s, again) {
			t.Fatalf("Parse(%q).String() = %q re-parses as %q", spec, canon, again.String())
		}
		if s.IsBytes() != (canon == "bytes") {
			t.Fatalf("Parse(%q).IsBytes() = %v", spec, s.IsBytes())
		}
	})
}

// FuzzValidate: Validate never panics, errors wrap ErrMismatch, "string"
// accepts exactly valid UTF-8, and every JSON shape only accepts valid JSON.
func FuzzValidate(f *testing.F) {
	for i, d := range []string{
		"", "null", "1", "-1.5e3", `"x"`, "\xff", `{"w": 1, "h": 2}`, `[1, [2], null]`,
		`{"a": ["x"], "b": {"c": null}}`, `{"meta": {"x": [1, {}]}, "pixels": [[1, 2], []]}`,
		`[1 2]`, `{"w": 1, "w": 2}`, "9223372036854775808", `{"b": null}`,
	} {
		f.Add(uint8(i), []byte(d))
	}
	shapes := make([]*shape.Shape, len(fuzzSpecs))
	for i, s := range fuzzSpecs {
		shapes[i] = shape.MustParse(s)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		s := shapes[int(which)%len(shapes)]
		err := s.Validate(data)
		var e *shape.Error
		if err != nil && (!errors.Is(err, shape.ErrMismatch) || !errors.As(err, &e) || e.Shape != s.String()) {
			t.Fatalf("%s: bad error %v", s, err)
		}
		switch s.String() {
		case "bytes":
			if err != nil {
				t.Fatalf("bytes refused %q: %v", data, err)
			}
		case "string":
			if (err == nil) != utf8.Valid(data) {
				t.Fatalf("string: Validate(%q) = %v, utf8.Valid = %v", data, err, utf8.Valid(data))
			}
		default:
			if err == nil && !json.Valid(data) {
				t.Fatalf("%s accepted invalid JSON %q", s, data)
			}
			if s.String() == "json" || s.String() == "any" {
				if (err == nil) != json.Valid(data) {
					t.Fatalf("%s: Validate(%q) = %v, json.Valid = %v", s, data, err, json.Valid(data))
				}
			}
		}
	})
}
