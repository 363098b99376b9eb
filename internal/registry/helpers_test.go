package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// wasmHeader is the smallest valid wasm module: magic and version.
const wasmHeader = "\x00asm\x01\x00\x00\x00"

// testOpener reads the manifest section and uses the sha256 of all the
// bytes as the module digest; it stands in for package pack.
func testOpener(data []byte) (*manifest.Manifest, string, string, error) {
	sec, ok := engine.CustomSection(data, "orbital.manifest")
	if !ok {
		return nil, "", "", fmt.Errorf("no orbital.manifest section: %w", api.ErrBadModule)
	}
	m, err := manifest.Parse(sec, "orbital.manifest")
	if err != nil {
		return nil, "", "", fmt.Errorf("%w: %w", api.ErrBadManifest, err)
	}
	sum := sha256.Sum256(data)
	return m, hex.EncodeToString(sum[:]), "unsigned (test)", nil
}

// uleb appends the unsigned LEB128 encoding of v.
func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// customSection appends a custom section.
func customSection(b []byte, name string, payload []byte) []byte {
	body := uleb(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	b = append(b, 0)
	b = uleb(b, uint64(len(body)))
	return append(b, body...)
}

// buildPkg makes a package: a minimal module, the manifest section and
// pad bytes of padding (a "pad" custom section) to make it bigger.
func buildPkg(toml string, pad int) []byte {
	b := []byte(wasmHeader)
	b = customSection(b, "orbital.manifest", []byte(toml))
	if pad > 0 {
		p := make([]byte, pad)
		for i := range p {
			p[i] = byte(i * 7)
		}
		b = customSection(b, "pad", p)
	}
	return b
}

// spec describes a test module compactly.
type spec struct {
	name, version string
	kind          string            // default "library"
	exports       []string          // default ["f"] for libraries
	deps          map[string]string // name → range, or "range optional"
	extra         string            // more TOML, appended
}

// toml renders s as a manifest.
func (s spec) toml() string {
	var b strings.Builder
	kind := s.kind
	if kind == "" {
		kind = "library"
	}
	fmt.Fprintf(&b, "name = %q\nversion = %q\nkind = %q\n", s.name, s.version, kind)
	if s.extra != "" {
		b.WriteString(s.extra + "\n")
	}
	exports := s.exports
	if kind == "library" && len(exports) == 0 {
		exports = []string{"f"}
	}
	for _, e := range exports {
		fmt.Fprintf(&b, "[exports.%s]\n", e)
	}
	if len(s.deps) > 0 {
		b.WriteString("[dependencies]\n")
		for n, r := range s.deps {
			if rng, ok := strings.CutSuffix(r, " optional"); ok {
				fmt.Fprintf(&b, "%q = { version = %q, optional = true }\n", n, rng)
			} else {
				fmt.Fprintf(&b, "%q = %q\n", n, r)
			}
		}
	}
	return b.String()
}

func (s spec) pkg() []byte { return buildPkg(s.toml(), 0) }

// lib and app are spec shorthands.
func lib(name, version string, deps ...string) spec {
	return spec{name: name, version: version, deps: depMap(deps)}
}

func app(name, version string, deps ...string) spec {
	return spec{name: name, version: version, kind: "app", deps: depMap(deps)}
}

// depMap turns "name range[ optional]" strings into a dependency map.
func depMap(deps []string) map[string]string {
	if len(deps) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, d := range deps {
		n, r, _ := strings.Cut(d, " ")
		m[n] = r
	}
	return m
}

// openTest opens a registry in a fresh directory.
func openTest(t testing.TB) *Registry {
	t.Helper()
	return openDir(t, t.TempDir())
}

func openDir(t testing.TB, dir string) *Registry {
	t.Helper()
	r, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// mustInstall installs specs in order.
func mustInstall(t testing.TB, r *Registry, specs ...spec) {
	t.Helper()
	for _, s := range specs {
		if _, err := install(r, context.Background(), s.pkg()); err != nil {
			t.Fatalf("install %s@%s: %v", s.name, s.version, err)
		}
	}
}

// mustCheck fails the test if Check finds problems.
func mustCheck(t testing.TB, r *Registry) Report {
	t.Helper()
	rep, err := r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("check: %d problems:\n%s", len(rep.Problems), strings.Join(rep.Problems, "\n"))
	}
	return rep
}

// errClass names the api class err wraps, for table comparisons.
func errClass(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range []error{api.ErrNotFound, api.ErrVersion, api.ErrExists, api.ErrInvalid, api.ErrBadModule, api.ErrBadManifest, api.ErrTooLarge, api.ErrLimit, api.ErrClosed, api.ErrTimeout} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	return "unclassified: " + err.Error()
}

// blobFiles lists the files under the store, for assertions.
func blobFiles(t testing.TB, r *Registry) []blobFile {
	t.Helper()
	files, err := r.store.walk()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// opener stands in for the trust gate: it opens a package or refuses it.
type opener func(data []byte) (*manifest.Manifest, string, string, error)

// install opens data with testOpener and installs it.
func install(r *Registry, ctx context.Context, data []byte) (Record, error) {
	return installWith(r, ctx, data, InstallOptions{})
}

func installWith(r *Registry, ctx context.Context, data []byte, o InstallOptions) (Record, error) {
	return installOpened(r, ctx, testOpener, data, o)
}

func installOpened(r *Registry, ctx context.Context, open opener, data []byte, o InstallOptions) (Record, error) {
	m, digest, verdict, err := open(data)
	if err != nil {
		return Record{}, fmt.Errorf("install: %w", err)
	}
	return r.Install(ctx, Package{Data: data, Manifest: m, Digest: digest, Verdict: verdict}, o)
}
