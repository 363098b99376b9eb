package modules

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// TestPreviewsBounded: staged packages expire, and there are never more
// than MaxPreviews of them or more than MaxPreviewBytes together (the
// oldest go first).
func TestPreviewsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	ps := newPreviews()
	ps.now = func() time.Time { return now }
	stage := func(id string, size int) {
		ps.put(&staged{p: api.InstallPreview{ID: id, Expires: now.Add(PreviewTTL)}, n: size})
		now = now.Add(time.Second)
	}
	for i := range MaxPreviews + 2 {
		stage(fmt.Sprint("n", i), 1)
	}
	if len(ps.byID) != MaxPreviews {
		t.Fatalf("%d staged, want %d", len(ps.byID), MaxPreviews)
	}
	if _, err := ps.take("n0", true); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("the oldest is still staged: %v", err)
	}
	if _, err := ps.take("n2", true); err != nil {
		t.Fatal(err)
	}
	// Two big ones do not fit together with the rest.
	stage("big1", MaxPreviewBytes/2)
	stage("big2", MaxPreviewBytes/2+1)
	if _, err := ps.take("big1", true); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("big1 kept beside big2 past the byte bound: %v", err)
	}
	if s, err := ps.take("big2", false); err != nil || s.size() != MaxPreviewBytes/2+1 {
		t.Fatalf("big2: %v", err)
	}
	if _, err := ps.take("big2", false); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("taken twice: %v", err)
	}
	// Expiry.
	stage("late", 1)
	now = now.Add(PreviewTTL + time.Second)
	if _, err := ps.take("late", true); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("expired preview still staged: %v", err)
	}
}
