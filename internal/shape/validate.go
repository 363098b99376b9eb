package shape

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate checks that data has the shape. It returns nil, or an *Error
// wrapping ErrMismatch that says where in the data the first difference is,
// e.g. "shape {w: int}: at .w: want int, got string". A nil Shape accepts
// anything, like "bytes".
func (s *Shape) Validate(data []byte) error {
	if s == nil {
		return nil
	}
	switch s.top {
	case topBytes:
		return nil
	case topString:
		if utf8.Valid(data) {
			return nil
		}
		return s.mismatch("", fmt.Sprintf("not valid UTF-8 (at byte %d)", invalidUTF8At(data)))
	case topJSON:
		if json.Valid(data) {
			return nil
		}
		var raw json.RawMessage
		err := json.Unmarshal(data, &raw)
		if err == nil { // cannot happen: Unmarshal and Valid agree
			err = errors.New("invalid JSON")
		}
		return s.mismatch("", "not valid JSON: "+jsonProblem(err, true))
	}
	v := &validator{s: s, dec: json.NewDecoder(bytes.NewReader(data))}
	v.dec.UseNumber()
	if err := v.value(s.root); err != nil {
		return err
	}
	end := v.dec.InputOffset()
	if _, err := v.dec.Token(); err != io.EOF {
		for end < int64(len(data)) && isSpace(data[end]) {
			end++
		}
		return s.mismatch("", fmt.Sprintf("unexpected data at byte %d after the JSON value", end))
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *Shape) mismatch(at, msg string) *Error {
	return &Error{Shape: s.String(), At: at, Msg: msg, err: ErrMismatch}
}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// jsonProblem describes a decoding error, with the offset of a syntax error
// if offset is set (the decoder's offsets are only reliable for a whole
// document, not for a value read in the middle of a stream).
func jsonProblem(err error, offset bool) string {
	var se *json.SyntaxError
	switch {
	case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of data"
	case errors.As(err, &se):
		if se.Error() == "unexpected end of JSON input" {
			return "unexpected end of data"
		}
		if !offset {
			return se.Error()
		}
		return fmt.Sprintf("%v (after %d bytes)", se, se.Offset)
	}
	return err.Error()
}

// seg is one step of the path to the value being checked: a field name, or
// an array index when name is empty.
type seg struct {
	name string
	idx  int
}

type validator struct {
	s    *Shape
	dec  *json.Decoder
	path []seg
	raw  json.RawMessage // the last scalar read, reused
}

// at renders the current path, such as ".pixels[3].r".
func (v *validator) at() string {
	var b strings.Builder
	for _, p := range v.path {
		if p.name != "" {
			b.WriteByte('.')
			b.WriteString(p.name)
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.idx))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func (v *validator) errorf(format string, args ...any) error {
	return v.s.mismatch(v.at(), fmt.Sprintf(format, args...))
}

// bad reports a decoding error.
func (v *validator) bad(err error) error {
	return v.errorf("invalid JSON: %s", jsonProblem(err, false))
}

// token reads the next token.
func (v *validator) token() (json.Token, error) {
	tok, err := v.dec.Token()
	if err != nil {
		return nil, v.bad(err)
	}
	return tok, nil
}

// value checks the next JSON value against n. Arrays and objects are
// walked token by token; any other value is read whole into v.raw (a
// reused buffer) and classified by its first byte, which the decoder has
// already checked to start a valid JSON value.
func (v *validator) value(n *node) error {
	if n.kind == kindArray || n.kind == kindObject {
		tok, err := v.token()
		if err != nil {
			return err
		}
		switch {
		case n.kind == kindArray && tok == json.Delim('['):
			return v.array(n)
		case n.kind == kindObject && tok == json.Delim('{'):
			return v.object(n)
		case tok == nil && n.nullable:
			return nil
		}
		if d, ok := tok.(json.Delim); ok && (d == '[' || d == '{') {
			return v.want(n, kindOf(byte(d)), "")
		}
		return v.want(n, kindOfToken(tok), "")
	}
	v.raw = v.raw[:0]
	if err := v.dec.Decode(&v.raw); err != nil {
		return v.bad(err)
	}
	got := kindOf(v.raw[0])
	switch {
	case n.kind == kindAny, got == n.kind, got == kindNull && n.nullable:
		return nil
	case n.kind == kindInt && got == kindFloat && isInt64(v.raw):
		return nil
	}
	return v.want(n, got, string(v.raw))
}

// kindOf classifies a JSON value by its first byte. Numbers are reported as
// kindFloat; isInt64 tells whether they are also ints.
func kindOf(c byte) kind {
	switch c {
	case '"':
		return kindString
	case 't', 'f':
		return kindBool
	case 'n':
		return kindNull
	case '[':
		return kindArray
	case '{':
		return kindObject
	}
	return kindFloat
}

// kindOfToken classifies a scalar token.
func kindOfToken(tok json.Token) kind {
	switch tok.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBool
	case string:
		return kindString
	}
	return kindFloat
}

// isInt64 reports whether a valid JSON number is written as an integer (no
// fraction, no exponent) within the int64 range.
func isInt64(num []byte) bool {
	digits := num
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	const maxInt64 = "9223372036854775807"
	switch {
	case len(digits) < len(maxInt64):
		return true
	case len(digits) > len(maxInt64):
		return false
	case num[0] == '-':
		return string(digits) <= "9223372036854775808"
	}
	return string(digits) <= maxInt64
}

// want reports that the value is of kind got rather than what n describes;
// num is the number's text when got is a number.
func (v *validator) want(n *node, got kind, num string) error {
	want := kindNames[n.kind]
	if n.nullable {
		want += " or null"
	}
	what := kindNames[got]
	switch {
	case got == kindFloat && num == "":
		what = "number"
	case got == kindFloat:
		what = "number " + truncate(num)
		if n.kind == kindInt {
			if strings.ContainsAny(num, ".eE") {
				what += " (not written as an integer)"
			} else {
				what += " (out of the int64 range)"
			}
		}
	}
	return v.errorf("want %s, got %s", want, what)
}

// array checks the elements of an array after its '['.
func (v *validator) array(n *node) error {
	v.path = append(v.path, seg{})
	last := len(v.path) - 1
	for i := 0; v.dec.More(); i++ {
		v.path[last].idx = i
		if err := v.value(n.elem); err != nil {
			return err
		}
	}
	v.path = v.path[:last]
	_, err := v.token() // ']'
	return err
}

// object checks the members of an object after its '{'.
func (v *validator) object(n *node) error {
	var (
		seen    uint64 // fields seen, for up to 64 fields
		seenBig []bool // for more
	)
	if len(n.fields) > 64 {
		seenBig = make([]bool, len(n.fields))
	}
	for v.dec.More() {
		tok, err := v.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder only returns strings as keys
		i, ok := n.lookup(key)
		if !ok {
			return v.errorf("unknown key %s (allowed: %s)", strconv.Quote(truncate(key)), n.fieldNames())
		}
		if seenBig != nil {
			ok = seenBig[i]
			seenBig[i] = true
		} else {
			ok = seen&(1<<i) != 0
			seen |= 1 << i
		}
		if ok {
			return v.errorf("key %q appears twice", key)
		}
		v.path = append(v.path, seg{name: n.fields[i].name})
		if err := v.value(n.fields[i].typ); err != nil {
			return err
		}
		v.path = v.path[:len(v.path)-1]
	}
	if _, err := v.token(); err != nil { // '}'
		return err
	}
	for i, f := range n.fields {
		if f.optional {
			continue
		}
		if seenBig != nil && !seenBig[i] || seenBig == nil && seen&(1<<i) == 0 {
			return v.errorf("missing key %q", f.name)
		}
	}
	return nil
}

// fieldNames lists an object's field names for messages.
func (n *node) fieldNames() string {
	if len(n.fields) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, f := range n.fields {
		if i == 8 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
	}
	return b.String()
}
