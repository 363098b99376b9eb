package manifest

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// BurntSushi/toml v1.6.0 reports positions for syntax errors (toml.ParseError)
// but exposes no position for keys or values of a successfully parsed
// document: MetaData keeps that information in an unexported map keyed by the
// dotted key, which in any case cannot tell the elements of an array of tables
// apart. So after the library has accepted a document, a small scanner walks
// the same text once more and records on which line every key, table and
// array element starts. The scanner only has to be right for valid TOML (the
// library has already rejected everything else), but it never panics and
// always advances on any input.

// positions maps a display path such as "capabilities.fs[1].access" or
// "capabilities.env[2]" to the 1-based line where it starts.
type positions map[string]int

// childPath returns the display path of key inside the table at parent.
func childPath(parent, key string) string {
	if parent == "" {
		return quoteKey(key)
	}
	return parent + "." + quoteKey(key)
}

// elemPath returns the display path of element i of the array at parent.
func elemPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// quoteKey renders one key segment the way it would be written in TOML: bare
// when possible, quoted otherwise.
func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// line returns the line of path, falling back to the closest enclosing table
// or array that has a known position, and finally to line 1.
func (p positions) line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 1
}

// parentPath strips the last segment ("[n]" or ".key") of a display path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
		return ""
	}
	// Walk backwards to the last '.' that is not inside a quoted segment.
	inQuote := false
	last := -1
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '.' && !inQuote:
			last = i
		case c == '[' && !inQuote:
			last = i
		}
	}
	if last < 0 {
		return ""
	}
	return path[:last]
}

type posScanner struct {
	src  string
	i    int
	line int
	pos  positions
	aot  map[string]int // array-of-tables display path -> number of elements so far
}

// scanPositions records the starting line of every key, table and array
// element in src.
func scanPositions(src string) positions {
	s := &posScanner{src: src, line: 1, pos: positions{}, aot: map[string]int{}}
	s.document()
	return s.pos
}

func (s *posScanner) eof() bool { return s.i >= len(s.src) }

func (s *posScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

// advance consumes one byte, counting lines.
func (s *posScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

func (s *posScanner) set(path string) { s.pos[path] = s.line }

func (s *posScanner) setIfUnset(path string) {
	if _, ok := s.pos[path]; !ok {
		s.pos[path] = s.line
	}
}

// skipSpace skips blanks and, if newlines is set, newlines and comments.
func (s *posScanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t':
			s.i++
		case newlines && (c == '\n' || c == '\r'):
			s.advance()
		case newlines && c == '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *posScanner) skipComment() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.i++
	}
}

// skipRestOfLine skips everything up to and including the next newline.
func (s *posScanner) skipRestOfLine() {
	for !s.eof() {
		c := s.src[s.i]
		s.advance()
		if c == '\n' {
			return
		}
	}
}

func (s *posScanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			table = s.header()
			s.skipRestOfLine()
		} else {
			s.keyval(table)
			s.skipRestOfLine()
		}
		if s.i == start { // cannot happen on valid TOML; guarantee progress
			s.advance()
		}
	}
}

// header scans "[a.b]" or "[[a.b]]" and returns the display path of the table
// it opens.
func (s *posScanner) header() string {
	s.i++ // '['
	array := false
	if s.peek(0) == '[' {
		array = true
		s.i++
	}
	keys := s.key()
	path := ""
	for n, k := range keys {
		path = childPath(path, k)
		if n < len(keys)-1 {
			s.setIfUnset(path)
			if c, ok := s.aot[path]; ok && c > 0 {
				path = elemPath(path, c-1)
			}
			continue
		}
		if array {
			s.setIfUnset(path)
			c := s.aot[path]
			s.aot[path] = c + 1
			path = elemPath(path, c)
		}
		s.set(path)
	}
	return path
}

// keyval scans "a.b = value" relative to the table at base.
func (s *posScanner) keyval(base string) {
	keys := s.key()
	if len(keys) == 0 {
		return
	}
	path := base
	for n, k := range keys {
		path = childPath(path, k)
		if n < len(keys)-1 {
			s.setIfUnset(path)
		} else {
			s.set(path)
		}
	}
	s.skipSpace(false)
	if s.peek(0) != '=' {
		return
	}
	s.i++
	s.skipSpace(false)
	s.value(path)
}

// key scans a possibly dotted key and returns its decoded segments.
func (s *posScanner) key() []string {
	var keys []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return keys
		}
		switch c := s.src[s.i]; {
		case c == '"':
			keys = append(keys, s.basicString())
		case c == '\'':
			keys = append(keys, s.literalString())
		case isBareKeyByte(c):
			start := s.i
			for !s.eof() && isBareKeyByte(s.src[s.i]) {
				s.i++
			}
			keys = append(keys, s.src[start:s.i])
		default:
			return keys
		}
		s.skipSpace(false)
		if s.peek(0) != '.' {
			return keys
		}
		s.i++
	}
}

func (s *posScanner) value(path string) {
	if s.eof() {
		return
	}
	switch c := s.src[s.i]; c {
	case '"':
		if strings.HasPrefix(s.src[s.i:], `"""`) {
			s.multiline('"')
		} else {
			s.basicString()
		}
	case '\'':
		if strings.HasPrefix(s.src[s.i:], `'''`) {
			s.multiline('\'')
		} else {
			s.literalString()
		}
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			start := s.i
			p := elemPath(path, n)
			s.set(p)
			s.value(p)
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				s.advance()
			}
		}
	case '{':
		s.i++
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			start := s.i
			s.keyval(path)
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				s.advance()
			}
		}
	default:
		s.scalar()
	}
}

// scalar skips a number, boolean or date-time. A date and a time may be
// separated by a single space ("1979-05-27 07:32:00Z").
func (s *posScanner) scalar() {
	start := s.i
	for !s.eof() {
		c := s.src[s.i]
		if c == ' ' && isDate(s.src[start:s.i]) && s.peek(1) >= '0' && s.peek(1) <= '9' {
			s.i++
			continue
		}
		if strings.IndexByte(" \t\r\n,]}#", c) >= 0 {
			break
		}
		s.i++
	}
}

func isDate(t string) bool {
	if len(t) != 10 || t[4] != '-' || t[7] != '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if i != 4 && i != 7 && (t[i] < '0' || t[i] > '9') {
			return false
		}
	}
	return true
}

// basicString scans a "..." string and returns its decoded value.
func (s *posScanner) basicString() string {
	s.i++ // opening quote
	var b strings.Builder
	for !s.eof() {
		c := s.src[s.i]
		switch c {
		case '"':
			s.i++
			return b.String()
		case '\n':
			return b.String() // unterminated; cannot happen on valid TOML
		case '\\':
			s.i++
			s.escape(&b)
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	return b.String()
}

var simpleEscapes = map[byte]byte{'b': '\b', 't': '\t', 'n': '\n', 'f': '\f', 'r': '\r', 'e': 0x1b, '"': '"', '\\': '\\'}

// escape decodes the escape sequence after a backslash.
func (s *posScanner) escape(b *strings.Builder) {
	if s.eof() {
		return
	}
	c := s.src[s.i]
	s.i++
	if r, ok := simpleEscapes[c]; ok {
		b.WriteByte(r)
		return
	}
	var n int
	switch c {
	case 'x':
		n = 2
	case 'u':
		n = 4
	case 'U':
		n = 8
	default:
		b.WriteByte(c)
		return
	}
	if s.i+n > len(s.src) {
		s.i = len(s.src)
		return
	}
	v, err := strconv.ParseUint(s.src[s.i:s.i+n], 16, 32)
	s.i += n
	if err == nil && utf8.ValidRune(rune(v)) {
		b.WriteRune(rune(v))
	}
}

// literalString scans a '...' string and returns its value.
func (s *posScanner) literalString() string {
	s.i++ // opening quote
	start := s.i
	for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
		s.i++
	}
	v := s.src[start:s.i]
	if s.peek(0) == '\'' {
		s.i++
	}
	return v
}

// multiline skips a multi-line string delimited by three q characters.
func (s *posScanner) multiline(q byte) {
	s.i += 3
	for !s.eof() {
		c := s.src[s.i]
		if c == '\\' && q == '"' {
			s.i++
			if !s.eof() {
				s.advance()
			}
			continue
		}
		if c == q && s.peek(1) == q && s.peek(2) == q {
			// Up to two quotes may precede the closing delimiter.
			for !s.eof() && s.src[s.i] == q {
				s.i++
			}
			return
		}
		s.advance()
	}
}
