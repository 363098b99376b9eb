package abi

import (
	"strings"
	"testing"
)

// TestConstantsTable checks the table against itself: names unique, values
// unique and ordered within a group, error codes -1, -2, … without a gap,
// texts where the bindings need them.
func TestConstantsTable(t *testing.T) {
	names := map[string]bool{}
	last := map[Group]int64{}
	seen := map[Group]map[int64]string{}
	wantErr := int64(-1)
	for _, c := range Constants() {
		if c.Name == "" || c.Meaning == "" {
			t.Errorf("%+v: want a name and a meaning", c)
		}
		if names[c.Name] {
			t.Errorf("%s listed twice", c.Name)
		}
		names[c.Name] = true
		if c.Group == GroupRaster {
			// Several families in one group (flags, opcodes, depth
			// funcs, blend modes…): values repeat across them, and
			// Lookup by value is meaningless. Names must start RASTER_.
			if !strings.HasPrefix(c.Name, "RASTER_") {
				t.Errorf("%s: raster constants are named RASTER_…", c.Name)
			}
			continue
		}
		if seen[c.Group] == nil {
			seen[c.Group] = map[int64]string{}
		} else if prev, dup := seen[c.Group][c.Value]; dup {
			t.Errorf("%s and %s both have the value %d", prev, c.Name, c.Value)
		} else if c.Group != GroupError && c.Value < last[c.Group] {
			t.Errorf("%s (%d) listed after a larger value of its group (%d)", c.Name, c.Value, last[c.Group])
		}
		seen[c.Group][c.Value], last[c.Group] = c.Name, c.Value
		switch c.Group {
		case GroupError:
			if c.Value != wantErr {
				t.Errorf("%s = %d, want %d (error codes run from -1 down, in order)", c.Name, c.Value, wantErr)
			}
			wantErr = c.Value - 1
			if c.Text == "" {
				t.Errorf("%s has no text", c.Name)
			}
		case GroupKind:
			if c.Text == "" {
				t.Errorf("%s has no text", c.Name)
			}
		case GroupLevel, GroupTimeout, GroupSize, GroupServe, GroupLimit:
		default:
			t.Errorf("%s: unknown group %q", c.Name, c.Group)
		}
		if got, ok := Lookup(c.Group, c.Value); !ok || got.Name != c.Name {
			t.Errorf("Lookup(%s, %d) = %v, %v; want %s", c.Group, c.Value, got.Name, ok, c.Name)
		}
	}
	if _, ok := Lookup(GroupError, 0); ok {
		t.Error("Lookup(error, 0) found a code")
	}
}

func TestFunctionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Functions() {
		if seen[f.Name] {
			t.Errorf("%s listed twice", f.Name)
		}
		seen[f.Name] = true
		if len(f.Results) > 1 {
			t.Errorf("%s: %d results, want at most one", f.Name, len(f.Results))
		}
		for _, v := range append(append([]string{}, f.Params...), f.Results...) {
			if v != I32 && v != I64 {
				t.Errorf("%s: value type %q", f.Name, v)
			}
		}
	}
}
