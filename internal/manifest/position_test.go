package manifest

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanPositions(t *testing.T) {
	src := `# comment [x]
a = 1
"quoted.key" = 'v' # trailing [y]
b.c.d = """
multi
line"""
arr = [
  1,
  [2, 3],
  { x = 1,
    y = 2 },
]
dt = 1979-05-27 07:32:00Z
e = ''' [fake]
z = 1 '''

[t]
k = "\"" # a quote
[[aot]]
n = 1
[[aot]]
n = 2
[[aot.sub]]
m = 3
[ "sp ace" . 'lit' ]
q = 1
`
	want := map[string]int{
		"a":               2,
		`"quoted.key"`:    3,
		"b":               4,
		"b.c":             4,
		"b.c.d":           4,
		"arr":             7,
		"arr[0]":          8,
		"arr[1]":          9,
		"arr[1][1]":       9,
		"arr[2]":          10,
		"arr[2].x":        10,
		"arr[2].y":        11,
		"dt":              13,
		"e":               14,
		"t":               17,
		"t.k":             18,
		"aot":             19,
		"aot[0]":          19,
		"aot[0].n":        20,
		"aot[1]":          21,
		"aot[1].n":        22,
		"aot[1].sub[0]":   23,
		"aot[1].sub[0].m": 24,
		`"sp ace".lit`:    25,
		`"sp ace".lit.q`:  26,
	}
	got := scanPositions(src)
	for k, l := range want {
		if got[k] != l {
			t.Errorf("line of %s = %d, want %d", k, got[k], l)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != `"sp ace"` && k != "aot[1].sub" && k != "arr[1][0]" {
			t.Errorf("unexpected position for %s (line %d)", k, got[k])
		}
	}
	if _, err := toml.Decode(src, new(map[string]any)); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
}

func TestPositionsLineFallback(t *testing.T) {
	p := positions{"a": 3, "a.b[1]": 5, `x."y.z"`: 9}
	tests := map[string]int{
		"a":                3,
		"a.c":              3,
		"a.b[1].c":         5,
		"a.b[2].c":         3,
		`x."y.z".w`:        9,
		`x."y.z"[0]`:       9,
		"missing.entirely": 1,
	}
	for path, want := range tests {
		if got := p.line(path); got != want {
			t.Errorf("line(%s) = %d, want %d", path, got, want)
		}
	}
}

// stripIndexes removes "[n]" element suffixes outside quoted segments.
func stripIndexes(p string) string {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case inQuote && c == '\\':
			b.WriteByte(c)
			i++
			if i < len(p) {
				b.WriteByte(p[i])
			}
			continue
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '[':
			for i < len(p) && p[i] != ']' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// FuzzPositions checks the position scanner against the TOML library: on
// every document the library accepts, every key it reports has a line, and
// every line is inside the document.
func FuzzPositions(f *testing.F) {
	for _, s := range []string{
		"a = 1\n[b]\nc = [1, {d = 2}]\n[[e]]\nf.g = 'x'\n",
		"x = \"\"\"\n[y]\n\"\"\"\n\"k\\u0041\" = 1\n",
		"t = 1979-05-27 07:32:00Z\nu = [1979-05-27 07:32:00, 2]\n",
		"a = {\n b = 1, # c\n c = [\n  2,\n ],\n}\n",
		"[a]\n[[a.b]]\n[[a.b]]\nc = 1\n['a'.\"b\".d]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var m map[string]any
		md, err := toml.Decode(src, &m)
		if err != nil {
			return
		}
		pos := scanPositions(src)
		lines := strings.Count(src, "\n") + 1
		have := map[string]bool{}
		for p, l := range pos {
			if l < 1 || l > lines {
				t.Errorf("%s at line %d, document has %d lines", p, l, lines)
			}
			have[stripIndexes(p)] = true
		}
		for _, k := range md.Keys() {
			p := ""
			for _, seg := range k {
				p = childPath(p, seg)
			}
			if !have[p] {
				t.Errorf("no position for key %s; have %v", p, pos)
			}
		}
	})
}
