package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/bus"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// querySet installs a small system to query.
func querySet(t *testing.T) *Registry {
	t.Helper()
	r := openTest(t)
	mustInstall(t, r,
		spec{name: "vision", version: "1.0.0", exports: []string{"brightness", "histogram"}, extra: `
[capabilities]
random = true`},
		spec{name: "vision", version: "1.1.0", exports: []string{"brightness", "histogram", "edges"}},
		spec{name: "kv", version: "1.0.0", exports: []string{"get", "put"}, extra: `
[triggers]
on_demand = true
[[capabilities.fs]]
path = "/data/kv"
access = "rw"`},
		spec{name: "camera", version: "2.0.0", kind: "app", extra: `
[capabilities]
clock = true
env = ["LANG", "APP_*"]
network = ["tcp://api.example.com:*"]
[[capabilities.fs]]
path = "/data"
access = "ro"
[bus]
listen = ["camera.cmd"]
subscribe = ["sensors.*.temp"]
publish = ["camera.>"]
send = ["log*"]
[dependencies]
vision = { version = "^1", functions = ["brightness"] }
kv = { version = "^1", optional = true }`},
		spec{name: "stats", version: "0.3.0", kind: "service", extra: `
[bus]
subscribe = [">"]
[triggers]
boot = true
subjects = ["jobs.*"]
routes = ["GET /stats"]
schedule = ["*/5 * * * *"]`},
	)
	return r
}

func TestWhoExports(t *testing.T) {
	r := querySet(t)
	tests := []struct {
		fn    string
		want  []string
		class error
	}{
		{"brightness", []string{"vision@1.0.0", "vision@1.1.0"}, nil},
		{"edges", []string{"vision@1.1.0"}, nil},
		{"put", []string{"kv@1.0.0"}, nil},
		{"nothing", nil, nil},
		{"Bad-Name", nil, api.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			got, err := r.WhoExports(tt.fn)
			if !errors.Is(err, tt.class) || (tt.class == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			var mods []string
			for _, e := range got {
				mods = append(mods, e.Module)
				if e.Function != tt.fn || e.Args != "bytes" || e.Result != "bytes" {
					t.Fatalf("export %+v", e)
				}
			}
			if !reflect.DeepEqual(mods, tt.want) {
				t.Fatalf("WhoExports(%s) = %v, want %v", tt.fn, mods, tt.want)
			}
		})
	}
}

func TestWhatFires(t *testing.T) {
	r := querySet(t)
	tests := []struct {
		subject string
		want    []string // module pattern via
		class   error
	}{
		{"camera.cmd", []string{"camera@2.0.0 camera.cmd listen", "stats@0.3.0 > subscribe"}, nil},
		{"sensors.kitchen.temp", []string{"camera@2.0.0 sensors.*.temp subscribe", "stats@0.3.0 > subscribe"}, nil},
		{"sensors.kitchen.humidity", []string{"stats@0.3.0 > subscribe"}, nil},
		{"jobs.resize", []string{"stats@0.3.0 > subscribe", "stats@0.3.0 jobs.* trigger"}, nil},
		{"jobs.resize.big", []string{"stats@0.3.0 > subscribe"}, nil},
		{"a.*", nil, api.ErrInvalid},
		{"", nil, api.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			got, err := r.WhatFires(tt.subject)
			if !errors.Is(err, tt.class) || (tt.class == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			var s []string
			for _, f := range got {
				s = append(s, f.Module+" "+f.Pattern+" "+f.Via)
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Fatalf("WhatFires(%s) = %q, want %q", tt.subject, s, tt.want)
			}
		})
	}
}

func TestTriggered(t *testing.T) {
	r := querySet(t)
	tests := []struct {
		kind string
		want []string
	}{
		// Modules without [triggers] start at boot.
		{TriggerBoot, []string{"camera@2.0.0", "stats@0.3.0", "vision@1.0.0", "vision@1.1.0"}},
		{TriggerRoute, []string{"stats@0.3.0 GET /stats"}},
		{TriggerSchedule, []string{"stats@0.3.0 */5 * * * *"}},
		{TriggerSubject, []string{"stats@0.3.0 jobs.*"}},
		{TriggerOnDemand, []string{"kv@1.0.0"}},
		{"webhook", nil},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got, err := r.Triggered(tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, f := range got {
				s = append(s, strings.TrimSpace(f.Module+" "+f.Pattern))
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Fatalf("Triggered(%s) = %q, want %q", tt.kind, s, tt.want)
			}
		})
	}
	if _, err := r.Triggered(""); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("Triggered(\"\"): %v", err)
	}
}

func TestTriggersHook(t *testing.T) {
	r, err := Open(context.Background(), t.TempDir(), Options{Triggers: func(m *manifest.Manifest) []Trigger {
		return []Trigger{{Kind: TriggerSubject, Value: m.Name + ".wake"}, {Kind: "custom", Value: "x"}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, err := install(r, context.Background(), lib("vision", "1.0.0").pkg())
	if err != nil || len(rec.Triggers) != 2 {
		t.Fatalf("install = %+v, %v", rec.Triggers, err)
	}
	if got, _ := r.WhatFires("vision.wake"); len(got) != 1 || got[0].Via != "trigger" {
		t.Fatalf("WhatFires via the hook = %+v", got)
	}
	if got, _ := r.Triggered("custom"); len(got) != 1 {
		t.Fatalf("Triggered(custom) = %+v", got)
	}
	mustCheck(t, r)
}

func TestDependentsAndInfo(t *testing.T) {
	r := querySet(t)
	deps, err := r.Dependents("vision")
	if err != nil {
		t.Fatal(err)
	}
	want := []Dependent{{Module: "camera@2.0.0", Name: "camera", Version: "2.0.0", Library: "vision", Range: "^1", Functions: []string{"brightness"}, Satisfied: "1.1.0"}}
	if !reflect.DeepEqual(deps, want) {
		t.Fatalf("Dependents(vision) = %+v", deps)
	}
	if deps, _ := r.Dependents("kv"); len(deps) != 1 || !deps[0].Optional {
		t.Fatalf("Dependents(kv) = %+v", deps)
	}
	if deps, err := r.Dependents("nobody"); err != nil || len(deps) != 0 {
		t.Fatalf("Dependents(nobody) = %+v, %v", deps, err)
	}

	info, err := r.Info("vision", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if info.Ref() != "vision@1.0.0" || info.Manifest.Name != "vision" || len(info.Manifest.Exports) != 2 ||
		!reflect.DeepEqual(info.Versions, []string{"1.0.0", "1.1.0"}) || len(info.Dependents) != 1 {
		t.Fatalf("Info = %+v", info)
	}
	if !info.Manifest.Capabilities.Random || info.Manifest.Exports["brightness"].ArgsShape == nil {
		t.Fatalf("manifest not restored: %+v", info.Manifest)
	}
	cam, err := r.Info("camera", "")
	if err != nil {
		t.Fatal(err)
	}
	d := cam.Manifest.Dependencies["vision"]
	if d.Constraint == nil || d.Range != "^1" || cam.Dependencies[1].Resolved != "1.1.0" || cam.Dependencies[0].Resolved != "1.0.0" {
		t.Fatalf("camera dependencies: %+v / %+v", d, cam.Dependencies)
	}
	b, err := json.Marshal(cam)
	if err != nil || !strings.Contains(string(b), `"name":"camera"`) || !strings.Contains(string(b), `"manifest":{`) {
		t.Fatalf("Info JSON = %s, %v", b, err)
	}
	if _, err := r.Info("camera", "9.0.0"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Info of a missing version: %v", err)
	}
}

func TestWhoMay(t *testing.T) {
	r := querySet(t)
	tests := []struct {
		capability string
		want       []string // module capability detail
		class      error
	}{
		{"clock", []string{"camera@2.0.0 clock"}, nil},
		{"random", []string{"vision@1.0.0 random"}, nil},
		{"fs", []string{"camera@2.0.0 fs:/data ro", "kv@1.0.0 fs:/data/kv rw"}, nil},
		{"fs:/data/kv/x", []string{"camera@2.0.0 fs:/data ro", "kv@1.0.0 fs:/data/kv rw"}, nil},
		{"fs:/data/other", []string{"camera@2.0.0 fs:/data ro"}, nil},
		{"fs:/", []string{"camera@2.0.0 fs:/data ro", "kv@1.0.0 fs:/data/kv rw"}, nil},
		{"fs:/etc", nil, nil},
		{"fs:/data/kv", []string{"camera@2.0.0 fs:/data ro", "kv@1.0.0 fs:/data/kv rw"}, nil},
		{"fs:data", nil, api.ErrInvalid},
		{"fs:/data/../etc", nil, api.ErrInvalid},
		{"env", []string{"camera@2.0.0 env:APP_*", "camera@2.0.0 env:LANG"}, nil},
		{"env:APP_MODE", []string{"camera@2.0.0 env:APP_*"}, nil},
		{"network:tcp://api.example.com:443", []string{"camera@2.0.0 network:tcp://api.example.com:*"}, nil},
		{"network:tcp://evil.example.com:443", nil, nil},
		{"calls:vision", []string{"camera@2.0.0 calls:vision brightness"}, nil},
		{"calls:vision.brightness", []string{"camera@2.0.0 calls:vision brightness"}, nil},
		{"calls:vision.edges", nil, nil},
		{"calls:kv.put", []string{"camera@2.0.0 calls:kv * optional"}, nil},
		{"publish:camera.frames.raw", []string{"camera@2.0.0 publish:camera.>"}, nil},
		{"subscribe:camera.cmd", []string{"camera@2.0.0 subscribe:camera.cmd listen", "stats@0.3.0 subscribe:>"}, nil},
		{"send:logger", []string{"camera@2.0.0 send:log*"}, nil},
		{"args", nil, nil},
		{"teleport", nil, api.ErrInvalid},
		{"fs:", nil, api.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.capability, func(t *testing.T) {
			got, err := r.WhoMay(tt.capability)
			if !errors.Is(err, tt.class) || (tt.class == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			var s []string
			for _, g := range got {
				s = append(s, strings.TrimSpace(g.Module+" "+g.Capability+" "+g.Detail))
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Fatalf("WhoMay(%s) = %q, want %q", tt.capability, s, tt.want)
			}
		})
	}
}

// TestWhatFiresAgreesWithMatch compares the index walk with bus.Match over
// every installed pattern.
func TestWhatFiresAgreesWithMatch(t *testing.T) {
	r := openTest(t)
	toks := []string{"a", "b", "c", "*"}
	rng := rand.New(rand.NewPCG(1, 2))
	var patterns []string
	for i := 0; i < 60; i++ {
		n := 1 + rng.IntN(4)
		var p []string
		for j := 0; j < n; j++ {
			p = append(p, toks[rng.IntN(len(toks))])
		}
		if rng.IntN(3) == 0 {
			p = append(p, ">")
		}
		patterns = append(patterns, strings.Join(p, "."))
	}
	for i := 0; i < len(patterns); i += 3 {
		end := min(i+3, len(patterns))
		list, _ := json.Marshal(patterns[i:end])
		mustInstall(t, r, spec{name: fmt.Sprintf("m%d", i), version: "1.0.0", kind: "app", extra: "[bus]\nsubscribe = " + string(list)})
	}
	for i := 0; i < 300; i++ {
		n := 1 + rng.IntN(5)
		var s []string
		for j := 0; j < n; j++ {
			s = append(s, toks[rng.IntN(3)])
		}
		subject := strings.Join(s, ".")
		want := 0
		for _, p := range patterns {
			if bus.Match(p, subject) {
				want++
			}
		}
		got, err := r.WhatFires(subject)
		if err != nil {
			t.Fatal(err)
		}
		dups := map[string]bool{}
		for _, f := range got {
			if !bus.Match(f.Pattern, subject) {
				t.Fatalf("WhatFires(%s) returned %s", subject, f.Pattern)
			}
			dups[f.Module+" "+f.Pattern] = true
		}
		// A module listing a pattern twice is indexed once.
		distinct := map[string]bool{}
		for i, p := range patterns {
			if bus.Match(p, subject) {
				distinct[fmt.Sprintf("m%d@1.0.0 %s", i/3*3, p)] = true
			}
		}
		if len(got) != len(distinct) || len(dups) != len(got) {
			t.Fatalf("WhatFires(%s) = %d results, want %d (%d pattern matches)", subject, len(got), len(distinct), want)
		}
	}
}
