package table

import (
	"errors"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/node/config"
)

// TestTransitions: the node's intent changes only along the allowed
// transitions; leaving Replacing signals whoever waits for it.
func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{Waiting, Supervised, true}, {Waiting, Stopped, false}, {Waiting, Replacing, true},
		{Supervised, Waiting, true}, {Supervised, Stopped, true}, {Supervised, Replacing, true},
		{Stopped, Supervised, true}, {Stopped, Waiting, false}, {Stopped, Replacing, true},
		{Replacing, Waiting, true}, {Replacing, Supervised, true}, {Replacing, Stopped, false},
		{Stopped, Stopped, true}, // staying is always allowed
	}
	for _, tt := range tests {
		r := &Record{name: "p", state: tt.from}
		if tt.from == Replacing {
			r.replaced = make(chan struct{})
		}
		err := r.To(tt.to)
		if (err == nil) != tt.ok {
			t.Errorf("%s → %s: err %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
		if err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s → %s: %v does not wrap api.ErrInvalid", tt.from, tt.to, err)
		}
		if want := map[bool]State{true: tt.to, false: tt.from}[tt.ok]; r.State() != want {
			t.Errorf("%s → %s: state %s, want %s", tt.from, tt.to, r.State(), want)
		}
	}
}

func TestReplacedSignals(t *testing.T) {
	r := &Record{name: "p", state: Supervised}
	if r.Replaced() != nil {
		t.Fatal("a record not being replaced has a Replaced channel")
	}
	if err := r.To(Replacing); err != nil {
		t.Fatal(err)
	}
	ch := r.Replaced()
	select {
	case <-ch:
		t.Fatal("closed before the replacement ended")
	default:
	}
	if err := r.To(Supervised); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("not closed when the replacement ended")
	}
}

func TestTableOneRecordPerName(t *testing.T) {
	tab := NewTable()
	a := &Record{name: "a", cfg: config.Process{Name: "a"}}
	b := &Record{name: "b"}
	if err := tab.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(b); err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(&Record{name: "a"}); !errors.Is(err, api.ErrExists) {
		t.Fatalf("a second record named a: %v", err)
	}
	if _, err := tab.Get("nosuch"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Get of an unknown name: %v", err)
	}
	tab.Remove(&Record{name: "a"}) // another record of that name: no effect
	if tab.Lookup("a") != a {
		t.Fatal("Remove of a stale record removed the current one")
	}
	tab.Remove(a)
	if tab.Lookup("a") != nil || len(tab.All()) != 1 || tab.All()[0] != b {
		t.Fatalf("after Remove: %v", tab.All())
	}
	if err := tab.Add(&Record{name: "a"}); err != nil || tab.All()[1].Name() != "a" {
		t.Fatalf("re-added a: %v %v", err, tab.All())
	}
}
