package main

import (
	"strings"
	"testing"
)

func TestStore(t *testing.T) {
	s := store{}
	if r, err := s.put(putArgs{"a", "1"}); err != nil || r.Replaced {
		t.Fatalf("put = %+v, %v", r, err)
	}
	if r, err := s.put(putArgs{"a", "2"}); err != nil || !r.Replaced {
		t.Fatalf("second put = %+v, %v", r, err)
	}
	if r, _ := s.get(keyArgs{"a"}); r != (getResult{"2", true}) {
		t.Fatalf("get = %+v", r)
	}
	if r, _ := s.get(keyArgs{"b"}); r != (getResult{"", false}) {
		t.Fatalf("get of a missing key = %+v", r)
	}
	if r, _ := s.len(nil); r.N != 1 {
		t.Fatalf("len = %+v", r)
	}
	if r, _ := s.delete(keyArgs{"a"}); !r.Found {
		t.Fatal("delete: not found")
	}
	if r, _ := s.delete(keyArgs{"a"}); r.Found {
		t.Fatal("second delete: found")
	}
	for _, bad := range []putArgs{{"", "x"}, {strings.Repeat("k", maxKey+1), ""}, {"k", strings.Repeat("v", maxValue+1)}} {
		if _, err := s.put(bad); err == nil {
			t.Errorf("put of a %d-byte key and %d-byte value: no error", len(bad.Key), len(bad.Value))
		}
	}
	for i := range maxKeys {
		s[string(rune(i+1))+"k"] = ""
	}
	if _, err := s.put(putArgs{"new", "x"}); err == nil || err.Error() != "full: 10000 keys" {
		t.Fatalf("put into a full store: %v", err)
	}
	if _, err := s.put(putArgs{"\x01k", "x"}); err != nil {
		t.Fatalf("replacing in a full store: %v", err)
	}
}
