package logring

import (
	"strconv"
	"strings"
	"testing"
)

// TestBookBytesBounded: a book never keeps much more text than MaxBytes:
// the rings written least recently go first, the one being written stays.
func TestBookBytesBounded(t *testing.T) {
	b := New(DefaultLines, 0)
	line := strings.Repeat("x", MaxText)
	for p := range 64 {
		for range 100 {
			b.Add("p"+strconv.Itoa(p), Line{Text: line})
		}
	}
	b.mu.Lock()
	total, n := b.bytes, len(b.rings)
	sum := 0
	for _, r := range b.rings {
		sum += r.bytes
	}
	b.mu.Unlock()
	if total > MaxBytes || total != sum {
		t.Fatalf("book keeps %d bytes (rings add up to %d), bound %d", total, sum, MaxBytes)
	}
	if _, _, ok := b.Since("p63", 0, 1); !ok {
		t.Fatal("the ring being written was dropped")
	}
	if _, _, ok := b.Since("p0", 0, 1); ok {
		t.Fatal("the oldest ring was kept past the bound")
	}
	if n < 2 || n > 64 {
		t.Fatalf("%d rings kept", n)
	}
	b.Forget("p63")
	b.mu.Lock()
	after := b.bytes
	b.mu.Unlock()
	if after >= total {
		t.Fatalf("Forget left the bytes at %d (was %d)", after, total)
	}
}
