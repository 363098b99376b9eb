package manifest

import (
	"testing"
	"time"
)

// TestBusEqual: a hand-over keeps a connection only for exactly the same
// bus configuration; each field counts.
func TestBusEqual(t *testing.T) {
	base := Bus{Publish: []string{"a.>"}, Subscribe: []string{"b.*"}, DenyPublish: []string{"a.x"}, DenySubscribe: []string{"b.y"},
		Send: []string{"log"}, Listen: []string{"b.z"}, Mailbox: 8, Overflow: OverflowBlock, BlockTimeout: time.Second, MaxMessage: 64}
	if !base.Equal(base) || !(Bus{}).Equal(Bus{}) {
		t.Fatal("a configuration differs from itself")
	}
	changes := map[string]func(*Bus){
		"publish":        func(b *Bus) { b.Publish = []string{"c.>"} },
		"subscribe":      func(b *Bus) { b.Subscribe = nil },
		"deny_publish":   func(b *Bus) { b.DenyPublish = append(b.DenyPublish, "a.y") },
		"deny_subscribe": func(b *Bus) { b.DenySubscribe = nil },
		"send":           func(b *Bus) { b.Send = []string{"*"} },
		"listen":         func(b *Bus) { b.Listen = []string{"b.w"} },
		"mailbox":        func(b *Bus) { b.Mailbox = 9 },
		"overflow":       func(b *Bus) { b.Overflow = OverflowDropOldest },
		"block_timeout":  func(b *Bus) { b.BlockTimeout = 2 * time.Second },
		"max_message":    func(b *Bus) { b.MaxMessage = 65 },
	}
	for name, change := range changes {
		o := base
		o.Publish, o.Subscribe, o.DenyPublish = append([]string(nil), base.Publish...), append([]string(nil), base.Subscribe...), append([]string(nil), base.DenyPublish...)
		change(&o)
		if base.Equal(o) || o.Equal(base) {
			t.Errorf("%s changed, still Equal", name)
		}
	}
}

func TestTriggersEqual(t *testing.T) {
	base := Triggers{Declared: true, Subjects: []string{"jobs.>"}, Routes: []string{"GET /x"}, Schedule: []string{"@hourly"}, After: AfterStay}
	if !base.Equal(base) {
		t.Fatal("triggers differ from themselves")
	}
	for name, o := range map[string]Triggers{
		"declared": {Subjects: base.Subjects, Routes: base.Routes, Schedule: base.Schedule, After: AfterStay},
		"boot":     {Declared: true, Boot: true, Subjects: base.Subjects, Routes: base.Routes, Schedule: base.Schedule, After: AfterStay},
		"subjects": {Declared: true, Routes: base.Routes, Schedule: base.Schedule, After: AfterStay},
		"after":    {Declared: true, Subjects: base.Subjects, Routes: base.Routes, Schedule: base.Schedule, After: AfterExit},
		"on_demand": {Declared: true, OnDemand: true, Subjects: base.Subjects, Routes: base.Routes, Schedule: base.Schedule,
			After: AfterStay},
	} {
		if base.Equal(o) {
			t.Errorf("%s changed, still Equal", name)
		}
	}
}
