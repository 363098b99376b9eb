package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/install"
	"github.com/orbitalfoundation/orbital/internal/node/config"
	"github.com/orbitalfoundation/orbital/internal/node/modules"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/registry"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// trustedHome makes a data directory whose trust policy trusts key for
// every module name.
func trustedHome(b testing.TB) (string, *pack.Key) {
	b.Helper()
	home := b.TempDir()
	key, err := pack.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	pol := pack.DefaultPolicy()
	if err := pol.Trust("bench", key.Public(), "*"); err != nil {
		b.Fatal(err)
	}
	if err := pol.Save(filepath.Join(home, pack.PolicyFile)); err != nil {
		b.Fatal(err)
	}
	return home, key
}

func signedPackage(b testing.TB, key *pack.Key, wasm []byte, manifestTOML string) []byte {
	b.Helper()
	p, _, err := pack.Pack(wasm, []byte(manifestTOML))
	if err != nil {
		b.Fatal(err)
	}
	if p, err = pack.Sign(p, key); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkBoot100 is the cold boot of a node with 100 installed modules:
// from StartWith to every boot-triggered process running (compiled code
// comes from the disk cache after the first boot, as on a device).
func BenchmarkBoot100(b *testing.B) {
	home, key := trustedHome(b)
	wasm, err := os.ReadFile(testwasm.Path(b, "pong"))
	if err != nil {
		b.Fatal(err)
	}
	reg, err := modules.OpenRegistry(context.Background(), home, nil)
	if err != nil {
		b.Fatal(err)
	}
	gate := install.NewGate(home)
	for i := 0; i < 100; i++ {
		m := fmt.Sprintf("name = \"svc-%d\"\nversion = \"1.0.0\"\nkind = \"service\"\n[bus]\nsubscribe = [\"ping\"]\nlisten = [\"ping\"]\nsend = [\"*\"]\n", i)
		p, err := gate.Open(signedPackage(b, key, wasm, m))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := reg.Install(context.Background(), p.Registry(), registry.InstallOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	_ = reg.Close()
	cfg, err := config.Parse([]byte("[node]\ngrace = \"1s\"\n"), "bench.toml", b.TempDir(), home)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n, err := Start(context.Background(), cfg, home, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			running := 0
			for _, p := range n.Runner().Processes() {
				if p.State == api.StateRunning {
					running++
				}
			}
			if running == 100 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		_ = n.Close(context.Background())
		b.StartTimer()
	}
}

// BenchmarkInstallAndCompile installs a 5 MiB package on a running node:
// verify, store, index and compile (cold: every iteration is a new binary,
// so nothing comes from the compile cache). The package is the 3.4 MiB
// Go-built camera module padded to 5 MiB with a custom section (data the
// compiler skips, as real modules carry names and debug sections).
func BenchmarkInstallAndCompile(b *testing.B) {
	home, key := trustedHome(b)
	wasm, err := os.ReadFile(testwasm.Path(b, "camera"))
	if err != nil {
		b.Fatal(err)
	}
	if pad := 5<<20 - len(wasm) - 16; pad > 0 {
		name := "padding"
		body := append(binary.AppendUvarint(nil, uint64(len(name))), name...)
		body = append(body, make([]byte, pad)...)
		wasm = append(append(append(wasm, 0), binary.AppendUvarint(nil, uint64(len(body)))...), body...)
	}
	cfg, err := config.Parse([]byte("[node]\ngrace = \"1s\"\n"), "bench.toml", b.TempDir(), home)
	if err != nil {
		b.Fatal(err)
	}
	n, err := Start(context.Background(), cfg, home, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close(context.Background())
	b.SetBytes(int64(len(wasm)))
	i := 0
	for b.Loop() {
		i++
		// A command module that rests until a subject: installed, compiled, not run.
		m := fmt.Sprintf("name = \"big-%d\"\nversion = \"1.0.0\"\nkind = \"app\"\n[triggers]\nsubjects = [\"never.%d\"]\n", i, i)
		if _, err := n.Modules().Install(context.Background(), signedPackage(b, key, wasm, m), false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(wasm))/(1<<20), "MiB/module")
}
