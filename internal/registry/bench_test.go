package registry

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// BenchmarkInstall5MB installs 5 MB packages: open (the test opener hashes
// the bytes once), resolve, store the blob durably (temp file, fsync,
// rename, directory fsync) and commit the index transaction (fsync). No
// precompilation: that is the engine's job.
func BenchmarkInstall5MB(b *testing.B) {
	const size = 5 << 20
	ctx := context.Background()
	r := openTest(b)
	mustInstall(b, r, lib("vision", "1.0.0"))
	pad := make([]byte, size)
	for i := range pad {
		pad[i] = byte(i * 7)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := app("big", fmt.Sprintf("1.0.%d", i), "vision ^1")
		data := customSection(buildPkg(s.toml(), 0), "pad", pad)
		b.StartTimer()
		if _, err := install(r, ctx, data); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := r.Remove("big", s.version, false); err != nil { // keep the disk small
			b.Fatal(err)
		}
		if i%8 == 7 {
			if _, err := r.GC(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

// A registry with 10,000 installed versions, shared by the query
// benchmarks: 500 libraries and 500 apps, 10 versions each. Library k
// exports fn_k and common; app k listens on appK.cmd, may subscribe to
// sensors.(k%20).*, depends on two libraries and asks for a few
// capabilities.
var (
	bigOnce sync.Once
	bigReg  *Registry
	bigDir  string
	bigErr  error
)

const (
	bigNames    = 500
	bigVersions = 10
)

func bigRegistry(b *testing.B) *Registry {
	b.Helper()
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "registry-bench-")
		if bigErr != nil {
			return
		}
		bigReg, bigErr = Open(context.Background(), bigDir, Options{})
		if bigErr != nil {
			return
		}
		// Set-up only: no fsync, or 10,000 installs take minutes.
		bigReg.db.NoSync, bigReg.store.noSync = true, true
		defer func() { bigReg.db.NoSync, bigReg.store.noSync = false, false }()
		ctx := context.Background()
		for v := 0; v < bigVersions; v++ {
			for k := 0; k < bigNames; k++ {
				l := spec{name: fmt.Sprintf("lib%d", k), version: fmt.Sprintf("1.%d.0", v), exports: []string{fmt.Sprintf("fn_%d", k), "common"}}
				if _, bigErr = install(bigReg, ctx, l.pkg()); bigErr != nil {
					return
				}
			}
			for k := 0; k < bigNames; k++ {
				a := app(fmt.Sprintf("app%d", k), fmt.Sprintf("1.%d.0", v),
					fmt.Sprintf("lib%d ^1", k), fmt.Sprintf("lib%d ^1.%d", (k+1)%bigNames, v))
				a.extra = fmt.Sprintf(`
[capabilities]
clock = true
[[capabilities.fs]]
path = "/data/app%d"
access = "rw"
[bus]
listen = ["app%d.cmd"]
subscribe = ["sensors.%d.*"]
publish = ["app%d.>"]`, k, k, k%20, k)
				if _, bigErr = install(bigReg, ctx, a.pkg()); bigErr != nil {
					return
				}
			}
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigReg
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigReg != nil {
		bigReg.Close()
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// BenchmarkQuery measures query latency with 10,000 installed versions.
func BenchmarkQuery(b *testing.B) {
	r := bigRegistry(b)
	benches := []struct {
		name string
		n    int // expected results
		run  func() (int, error)
	}{
		{"WhoExports/10-results", 10, func() (int, error) { x, err := r.WhoExports("fn_42"); return len(x), err }},
		{"WhoExports/5000-results", 5000, func() (int, error) { x, err := r.WhoExports("common"); return len(x), err }},
		{"WhatFires/10-results", 10, func() (int, error) { x, err := r.WhatFires("app42.cmd"); return len(x), err }},
		{"WhatFires/250-results", 250, func() (int, error) { x, err := r.WhatFires("sensors.7.temp"); return len(x), err }},
		{"Info", 1, func() (int, error) { _, err := r.Info("app42", ""); return 1, err }},
		{"Dependents/20-results", 20, func() (int, error) { x, err := r.Dependents("lib42"); return len(x), err }},
		{"WhoMay/fs-path", 10, func() (int, error) { x, err := r.WhoMay("fs:/data/app42/x"); return len(x), err }},
		{"Resolve", 1, func() (int, error) { _, err := r.Resolve("app42", "^1"); return 1, err }},
		{"List/1000-names", 1000, func() (int, error) { x, err := r.List(); return len(x), err }},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			if n, err := bb.run(); err != nil || n != bb.n {
				b.Fatalf("%d results, %v; want %d", n, err, bb.n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := bb.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInstallInto10k installs one small module into the 10,000-version
// registry (fsync on): the index cost at scale.
func BenchmarkInstallInto10k(b *testing.B) {
	r := bigRegistry(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := app("bench", fmt.Sprintf("1.0.%d", i), "lib1 ^1", "lib2 ^1")
		data := s.pkg()
		b.StartTimer()
		if _, err := install(r, ctx, data); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := r.Remove("bench", s.version, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
