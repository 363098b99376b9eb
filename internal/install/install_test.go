package install

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/pack"
)

// module is the smallest valid wasm module: magic and version.
const module = "\x00asm\x01\x00\x00\x00"

const manifestTOML = "name = \"example.com/hello\"\nversion = \"1.0.0\"\nkind = \"app\"\n"

func packed(t *testing.T, key *pack.Key) []byte {
	t.Helper()
	p, _, err := pack.Pack([]byte(module), []byte(manifestTOML))
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		if p, err = pack.Sign(p, key); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func key(t *testing.T, name string) *pack.Key {
	t.Helper()
	k, err := pack.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// trust writes home/trust.toml trusting k for pattern.
func trust(t *testing.T, home string, k *pack.Key, publisher, pattern string) {
	t.Helper()
	pol := pack.DefaultPolicy()
	if k != nil {
		if err := pol.Trust(publisher, k.Public(), pattern); err != nil {
			t.Fatal(err)
		}
	}
	if err := pol.Save(PolicyPath(home)); err != nil {
		t.Fatal(err)
	}
}

// TestGate: the verdicts of the one trust gate, with the publisher named
// as the policy names it and advice for a refusal.
func TestGate(t *testing.T) {
	acme, other := key(t, "acme-signer"), key(t, "other")
	home := t.TempDir()
	trust(t, home, acme, "ACME Corp", "example.com/*")
	g := NewGate(home)
	tests := []struct {
		name      string
		data      []byte
		class     error // refusal class; nil: accepted
		publisher string
		advice    string
	}{
		{"trusted", packed(t, acme), nil, "ACME Corp", ""},
		{"unsigned", packed(t, nil), pack.ErrUnsigned, "", "trust.toml"},
		{"untrusted key", packed(t, other), pack.ErrUntrustedKey, "other", "add its key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := g.Inspect(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			v := p.Verdict
			if tt.class == nil {
				if v.Err != nil || !v.Trusted || !v.Accepted {
					t.Fatalf("verdict %+v", v)
				}
				if _, err := g.Open(tt.data); err != nil {
					t.Fatalf("Open of an accepted package: %v", err)
				}
			} else {
				if !errors.Is(v.Err, tt.class) || !errors.Is(v.Err, api.ErrPermissionDenied) || v.Trusted {
					t.Fatalf("verdict err %v, want %v", v.Err, tt.class)
				}
				if _, err := g.Open(tt.data); !errors.Is(err, tt.class) {
					t.Fatalf("Open of a refused package: %v", err)
				}
				if !strings.Contains(v.Refusal(), tt.advice) || !strings.HasPrefix(v.Refusal(), "refused: ") {
					t.Fatalf("refusal %q, want advice containing %q", v.Refusal(), tt.advice)
				}
			}
			if v.Publisher != tt.publisher {
				t.Fatalf("publisher %q, want %q", v.Publisher, tt.publisher)
			}
			if p.Registry().Digest != p.Digest.Hex() || p.Registry().Manifest.Name != "example.com/hello" {
				t.Fatalf("registry view %+v", p.Registry())
			}
		})
	}
	if _, err := g.Inspect([]byte("not wasm")); !errors.Is(err, api.ErrBadModule) {
		t.Fatalf("garbage: %v", err)
	}
}

// TestRecheck: a verdict counts until the policy changes; then the package
// is judged again (a key revoked between the install prompt and its
// approval refuses the install).
func TestRecheck(t *testing.T) {
	acme := key(t, "acme")
	home := t.TempDir()
	trust(t, home, acme, "acme", "example.com/*")
	g := NewGate(home)
	p, err := g.Open(packed(t, acme))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Recheck(p); err != nil {
		t.Fatalf("unchanged policy: %v", err)
	}
	trust(t, home, nil, "", "") // the key is revoked
	if err := g.Recheck(p); !errors.Is(err, pack.ErrUntrustedKey) {
		t.Fatalf("after revocation: %v", err)
	}
	// No policy file: nothing is trusted.
	if err := os.Remove(PolicyPath(home)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGate(home).Open(packed(t, acme)); !errors.Is(err, api.ErrPermissionDenied) {
		t.Fatalf("without trust.toml: %v", err)
	}
}

// TestCheckLocal: a node config may name an unsigned package or a plain
// module (the operator's own); a signed one must verify.
func TestCheckLocal(t *testing.T) {
	acme, other := key(t, "acme"), key(t, "other")
	home := t.TempDir()
	trust(t, home, acme, "acme", "example.com/*")
	g := NewGate(home)
	for name, tc := range map[string]struct {
		data []byte
		ok   bool
	}{
		"plain module": {[]byte(module), true},
		"unsigned":     {packed(t, nil), true},
		"trusted":      {packed(t, acme), true},
		"untrusted":    {packed(t, other), false},
	} {
		if err := g.CheckLocal(tc.data); (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBrokenPolicy(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, pack.PolicyFile), []byte("[[publisher]]\nkey = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := NewGate(home)
	if err := g.Check(); err == nil {
		t.Fatal("a broken trust.toml passed Check")
	}
	if _, err := g.Inspect(packed(t, nil)); err == nil {
		t.Fatal("judged under a broken policy")
	}
}
