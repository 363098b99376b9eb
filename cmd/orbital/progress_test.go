package main

import (
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

func TestCompileLines(t *testing.T) {
	tests := []struct {
		ev   api.CompileEvent
		want string
	}{
		{api.CompileEvent{Module: "facecam", Size: 2_612_345, Stage: api.CompileStarted}, "orbital: compiling facecam 2.5MiB…\n"},
		{api.CompileEvent{Module: "facecam", Size: 2_612_345, Stage: api.CompileStarted, Cached: true}, ""},
		{api.CompileEvent{Module: "facecam", Size: 2_612_345, Stage: api.CompileDone, Elapsed: 1623 * time.Millisecond}, "orbital: compiled facecam in 1.62s\n"},
		{api.CompileEvent{Module: "echo", Size: 812, Stage: api.CompileCached, Elapsed: 212 * time.Microsecond}, "orbital: echo 812B cached (212µs)\n"},
		{api.CompileEvent{Module: "pong", Size: 4100, Stage: api.CompileCached, Elapsed: 74_400 * time.Microsecond}, "orbital: pong 4KiB cached (74ms)\n"},
		{api.CompileEvent{Module: "bad", Size: 10, Stage: api.CompileFailed, Error: "compile bad: bad module"}, "orbital: bad failed to compile: compile bad: bad module\n"},
		{api.CompileEvent{Module: "echo", Size: 812, Stage: api.CompileLoaded}, ""},
	}
	for _, tt := range tests {
		var b strings.Builder
		compileLines(&b)(tt.ev)
		if b.String() != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.ev, b.String(), tt.want)
		}
	}
}

// orbital run says nothing about a quick compile, and names a slow one
// once with its time.
func TestSlowCompile(t *testing.T) {
	var b strings.Builder
	p := slowCompile(&b, false)
	p(api.CompileEvent{Module: "hello", Size: 900, Stage: api.CompileStarted})
	p(api.CompileEvent{Module: "hello", Size: 900, Stage: api.CompileDone, Elapsed: time.Millisecond})
	if b.Len() != 0 {
		t.Fatalf("quick compile printed %q", b.String())
	}
	var slow syncBuffer
	p = slowCompile(&slow, false)
	p(api.CompileEvent{Module: "big", Size: 2_700_000, Stage: api.CompileStarted})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(slow.String(), "compiling big 2.6MiB…") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line for a slow compile: %q", slow.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p(api.CompileEvent{Module: "big", Size: 2_700_000, Stage: api.CompileDone, Elapsed: 1500 * time.Millisecond})
	if got := slow.String(); got != "orbital: compiling big 2.6MiB…\norbital: compiled big in 1.5s\n" {
		t.Fatalf("got %q", got)
	}
	if slowCompile(&b, true) != nil {
		t.Fatal("--quiet still reports")
	}
}

func TestBootSummary(t *testing.T) {
	if got := bootSummary(api.BootReport{Compiled: 3, Cached: 9}); got != "3 compiled, 9 cached" {
		t.Fatal(got)
	}
	if got := bootSummary(api.BootReport{Compiled: 1, Failed: 2}); got != "1 compiled, 0 cached, 2 failed" {
		t.Fatal(got)
	}
}
