// Package shape declares the shape of the arguments and results that library
// functions exchange, and checks data against it on the host, so that a
// library only ever sees arguments of the shape it declared and a caller only
// ever sees results of the declared shape.
//
// A shape is written as a short spec:
//
//	shape  := "bytes" | "string" | "json" | typ
//	typ    := "bool" | "int" | "float" | "string" | "null" | "any"
//	        | "[" typ "]"                    JSON array of typ
//	        | "{" [field ("," field)*] "}"   JSON object; unknown keys are refused
//	        | typ "?"                        nullable: null is allowed too
//	field  := ident ["?"] ":" typ            "ident?" marks an optional key
//	ident  := [A-Za-z_][A-Za-z0-9_]*         at most 64 characters
//
// Whitespace is allowed between tokens. As the whole shape, "bytes" accepts
// any data (no check at all: the fast path), "string" accepts raw bytes that
// are valid UTF-8 (not a JSON-quoted string) and "json" accepts any single
// valid JSON value. Any other shape means the data is exactly one JSON value
// of that type: "int" is a JSON number written as an integer (no fraction,
// no exponent) that fits in an int64, "float" any JSON number, "string" a
// JSON string, "any" any JSON value.
//
// Specs are at most MaxSpecLen bytes and nest at most MaxDepth arrays and
// objects. String returns a canonical form that Parse accepts again.
package shape

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on specs.
const (
	MaxSpecLen  = 4096 // bytes in a spec
	MaxDepth    = 32   // nested arrays and objects
	MaxIdentLen = 64   // characters in a field name
)

// ErrSyntax is wrapped by Parse's errors for a malformed spec.
var ErrSyntax = errors.New("invalid shape")

// ErrMismatch is wrapped by Validate's errors for data that does not have
// the shape.
var ErrMismatch = errors.New("shape mismatch")

// Error describes a malformed spec (wrapping ErrSyntax) or data that does
// not match a shape (wrapping ErrMismatch). Its message has the form
//
//	shape {w: int}: at .w: want int, got string
//	shape "{w: intt}": at byte 4: unknown type "intt" (want bool, int, float, string, null, any, [T] or {…})
type Error struct {
	Shape string // the canonical shape (Validate) or the quoted, shortened spec (Parse); Error shortens a long canonical shape
	At    string // where: a data path such as ".pixels[3]" (Validate), "byte N" of the spec (Parse); "" for the whole value
	Msg   string // what is wrong
	err   error  // ErrSyntax or ErrMismatch
}

// Error returns the message, shortening a long shape.
func (e *Error) Error() string {
	sh := e.Shape
	if e.err == ErrMismatch {
		sh = truncate(sh)
	}
	if e.At == "" {
		return "shape " + sh + ": " + e.Msg
	}
	return "shape " + sh + ": at " + e.At + ": " + e.Msg
}

// Unwrap returns ErrSyntax or ErrMismatch.
func (e *Error) Unwrap() error { return e.err }

// top is what the whole shape is.
type top uint8

const (
	topBytes  top = iota // any bytes
	topString            // raw UTF-8
	topJSON              // any valid JSON
	topTyped             // one JSON value of type root
)

// kind is the type of a node.
type kind uint8

const (
	kindBool kind = iota
	kindInt
	kindFloat
	kindString
	kindNull
	kindAny
	kindArray
	kindObject
)

var kindNames = [...]string{
	kindBool:   "bool",
	kindInt:    "int",
	kindFloat:  "float",
	kindString: "string",
	kindNull:   "null",
	kindAny:    "any",
	kindArray:  "array",
	kindObject: "object",
}

// node is one typ of the grammar.
type node struct {
	kind     kind
	nullable bool           // never set for null and any, which accept null anyway
	elem     *node          // kindArray
	fields   []field        // kindObject, in declaration order
	index    map[string]int // kindObject with many fields: name -> index in fields
}

type field struct {
	name     string
	optional bool
	typ      *node
}

// indexAbove is the number of fields above which an object node keeps a map
// from name to field.
const indexAbove = 8

// Shape is a parsed shape. The zero value and nil are not valid shapes
// except as receivers of IsBytes, String and Validate, which treat them as
// "bytes".
type Shape struct {
	top  top
	root *node // topTyped
	spec string
}

// Bytes is the shape "bytes", the default of library arguments and results.
var Bytes = &Shape{top: topBytes, spec: "bytes"}

// IsBytes reports whether the shape is "bytes", which accepts any data
// without looking at it.
func (s *Shape) IsBytes() bool { return s == nil || s.top == topBytes }

// String returns the canonical form of the shape, which Parse accepts and
// turns into an equal shape.
func (s *Shape) String() string {
	if s == nil || s.spec == "" {
		return "bytes"
	}
	return s.spec
}

// Parse parses a shape spec. Errors wrap ErrSyntax and say at which byte of
// the spec the problem is.
func Parse(spec string) (*Shape, error) {
	if len(spec) > MaxSpecLen {
		return nil, &Error{Shape: quoteSpec(spec), Msg: "too long (" + strconv.Itoa(len(spec)) + " bytes, at most " + strconv.Itoa(MaxSpecLen) + ")", err: ErrSyntax}
	}
	p := &parser{s: spec}
	p.space()
	start := p.i
	switch word := p.word(); word {
	case "bytes", "string", "json":
		p.space()
		if p.i == len(p.s) {
			switch word {
			case "bytes":
				return Bytes, nil
			case "string":
				return &Shape{top: topString, spec: "string"}, nil
			}
			return &Shape{top: topJSON, spec: "json"}, nil
		}
	}
	p.i = start
	if p.i == len(p.s) {
		return nil, p.fail("empty shape (want bytes, string, json or a type such as {w: int, h: int})")
	}
	root := p.typ()
	if p.err == nil {
		p.space()
		if p.i < len(p.s) {
			p.fail("unexpected %s after the shape", p.what())
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	var b strings.Builder
	root.write(&b)
	return &Shape{top: topTyped, root: root, spec: b.String()}, nil
}

// MustParse is like Parse but panics on an error. It is meant for shapes
// written in Go source.
func MustParse(spec string) *Shape {
	s, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

type parser struct {
	s     string
	i     int
	depth int
	err   *Error
}

// fail records the first error, at the current position.
func (p *parser) fail(format string, args ...any) *Error {
	if p.err == nil {
		p.err = &Error{Shape: quoteSpec(p.s), At: "byte " + strconv.Itoa(p.i), Msg: fmt.Sprintf(format, args...), err: ErrSyntax}
	}
	return p.err
}

func (p *parser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// what describes the byte at the current position for error messages.
func (p *parser) what() string {
	if p.i >= len(p.s) {
		return "end of shape"
	}
	return strconv.QuoteRune(rune(p.s[p.i]))
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// word scans an identifier-like word and returns it ("" if there is none).
func (p *parser) word() string {
	start := p.i
	if p.i < len(p.s) && isIdentStart(p.s[p.i]) {
		for p.i < len(p.s) && isIdentByte(p.s[p.i]) {
			p.i++
		}
	}
	return p.s[start:p.i]
}

func (p *parser) expect(c byte, context string) bool {
	p.space()
	if p.peek() != c {
		p.fail("want %q %s, got %s", string(c), context, p.what())
		return false
	}
	p.i++
	return true
}

// typ parses one typ; on error it records it and returns nil.
func (p *parser) typ() *node {
	p.space()
	var n *node
	switch c := p.peek(); {
	case c == '[' || c == '{':
		if p.depth == MaxDepth {
			p.fail("nested too deeply (at most %d arrays and objects)", MaxDepth)
			return nil
		}
		p.depth++
		p.i++
		if c == '[' {
			elem := p.typ()
			if elem == nil || !p.expect(']', "to close the array") {
				return nil
			}
			n = &node{kind: kindArray, elem: elem}
		} else {
			n = p.object()
			if n == nil {
				return nil
			}
		}
		p.depth--
	case isIdentStart(c):
		start := p.i
		word := p.word()
		switch word {
		case "bool":
			n = &node{kind: kindBool}
		case "int":
			n = &node{kind: kindInt}
		case "float":
			n = &node{kind: kindFloat}
		case "string":
			n = &node{kind: kindString}
		case "null":
			n = &node{kind: kindNull}
		case "any":
			n = &node{kind: kindAny}
		default:
			p.i = start
			switch word {
			case "bytes":
				p.fail("bytes is only allowed as the whole shape")
			case "json":
				p.fail("json is only allowed as the whole shape (use any inside a type)")
			default:
				p.fail("unknown type %q (want bool, int, float, string, null, any, [T] or {…})", truncate(word))
			}
			return nil
		}
	default:
		p.fail("want a type (bool, int, float, string, null, any, [T] or {…}), got %s", p.what())
		return nil
	}
	for {
		p.space()
		if p.peek() != '?' {
			return n
		}
		p.i++
		if n.kind != kindNull && n.kind != kindAny {
			n.nullable = true
		}
	}
}

// object parses the fields of an object after its '{'.
func (p *parser) object() *node {
	n := &node{kind: kindObject}
	p.space()
	if p.peek() == '}' {
		p.i++
		return n
	}
	for {
		p.space()
		start := p.i
		name := p.word()
		switch {
		case name == "":
			p.fail("want a field name, got %s", p.what())
			return nil
		case len(name) > MaxIdentLen:
			p.i = start
			p.fail("field name is too long (%d characters, at most %d)", len(name), MaxIdentLen)
			return nil
		}
		for _, f := range n.fields {
			if f.name == name {
				p.i = start
				p.fail("field %s is declared twice", name)
				return nil
			}
		}
		f := field{name: name}
		p.space()
		if p.peek() == '?' {
			p.i++
			f.optional = true
		}
		if !p.expect(':', "after field name "+name) {
			return nil
		}
		if f.typ = p.typ(); f.typ == nil {
			return nil
		}
		n.fields = append(n.fields, f)
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			if len(n.fields) > indexAbove {
				n.index = make(map[string]int, len(n.fields))
				for i, f := range n.fields {
					n.index[f.name] = i
				}
			}
			return n
		default:
			p.fail("want ',' or '}' after field %s, got %s", name, p.what())
			return nil
		}
	}
}

// write appends the canonical form of n.
func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case kindArray:
		b.WriteByte('[')
		n.elem.write(b)
		b.WriteByte(']')
	case kindObject:
		b.WriteByte('{')
		for i, f := range n.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.name)
			if f.optional {
				b.WriteByte('?')
			}
			b.WriteString(": ")
			f.typ.write(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString(kindNames[n.kind])
	}
	if n.nullable {
		b.WriteByte('?')
	}
}

// lookup returns the index of the field called name.
func (n *node) lookup(name string) (int, bool) {
	if n.index != nil {
		i, ok := n.index[name]
		return i, ok
	}
	for i := range n.fields {
		if n.fields[i].name == name {
			return i, true
		}
	}
	return 0, false
}

// quoteSpec quotes a spec for an error message, shortening a long one.
func quoteSpec(s string) string { return strconv.Quote(truncate(s)) }

// truncate shortens s to at most 64 bytes for messages.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:61] + "..."
}
