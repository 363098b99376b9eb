package pack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

func TestWalk(t *testing.T) {
	ok := module()
	tests := []struct {
		name string
		data []byte
		want string // substring of the error; "" for success
	}{
		{"module", ok, ""},
		{"header only", []byte(header), ""},
		{"empty", nil, "not a wasm binary"},
		{"short", []byte("\x00asm"), "not a wasm binary"},
		{"bad magic", []byte("\x00wasm\x01\x00\x00"), "not a wasm binary"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "version 0d000100 is not 1"},
		{"truncated section", ok[:len(ok)-1], "exceeds the"},
		{"missing size", append([]byte(header), 0x01), "malformed size"},
		{"size too long", append([]byte(header), 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "malformed size"},
		{"size overflows 32 bits", append([]byte(header), 0x01, 0xff, 0xff, 0xff, 0xff, 0x1f), "malformed size"},
		{"huge size", append([]byte(header), 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f), "exceeds the"},
		{"unknown section", append([]byte(header), 0x0e, 0x00), "unknown section id 14"},
		{"custom without name", append([]byte(header), 0x00, 0x00), "malformed name"},
		{"custom name too long", append([]byte(header), 0x00, 0x02, 0x05, 'a'), "malformed name"},
		{"custom name not UTF-8", append([]byte(header), sec(0, []byte{0x02, 0xff, 0xfe})...), "not valid UTF-8"},
		{"padded sizes are fine", append([]byte(header), 0x00, 0x82, 0x00, 0x01, 'a'), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secs, err := walk(tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("walk: %v", err)
				}
				// The sections tile the binary after the header.
				off := headerLen
				for _, s := range secs {
					if s.start != off {
						t.Fatalf("section at %d, want %d", s.start, off)
					}
					off = s.end
				}
				if off != len(tt.data) {
					t.Fatalf("sections end at %d of %d", off, len(tt.data))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, api.ErrBadModule) {
				t.Fatalf("walk: %v, want ErrBadModule containing %q", err, tt.want)
			}
		})
	}
}

func TestPack(t *testing.T) {
	mod := module()
	withManifest := append(bytes.Clone(mod), custom(ManifestSection, []byte(helloTOML))...)
	signed := mustSign(t, packed(t, helloTOML), fixedKey("alice", 1))
	tests := []struct {
		name    string
		wasm    []byte
		toml    string
		opt     Options
		class   error  // nil: success
		wantErr string // substring of the error
	}{
		{"plain module", mod, helloTOML, Options{}, nil, ""},
		{"same manifest embedded", withManifest, helloTOML, Options{}, nil, ""},
		{"signed package re-packed", signed, helloTOML, Options{}, nil, ""},
		{"different manifest embedded", withManifest, visionTOML, Options{}, api.ErrBadManifest, "already embeds the manifest of example.com/hello@1.0.0; replace it explicitly"},
		{"different manifest replaced", withManifest, visionTOML, Options{Replace: true}, nil, ""},
		{"not wasm", []byte("name = 1"), helloTOML, Options{}, api.ErrBadModule, "not a wasm binary"},
		{"truncated wasm", mod[:len(mod)-3], helloTOML, Options{}, api.ErrBadModule, "exceeds"},
		{"invalid manifest", mod, "name = \"x\"\n", Options{Source: "x/orbital.toml"}, api.ErrBadManifest, "x/orbital.toml:1"},
		{"manifest is not TOML", mod, "\x00asm", Options{}, api.ErrBadManifest, "invalid TOML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.wasm)
			out, m, err := PackWith(in, []byte(tt.toml), tt.opt)
			if !bytes.Equal(in, tt.wasm) {
				t.Fatal("PackWith modified its input")
			}
			if tt.class != nil {
				if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := mustOpen(t, out)
			if p.Manifest.String() != m.String() || string(p.ManifestTOML) != tt.toml {
				t.Fatalf("opened %s with %q, packed %s", p.Manifest, p.ManifestTOML, m)
			}
			if p.Signed() {
				t.Fatal("a fresh package carries signatures")
			}
			// What any wasm tool sees: the module's own sections, then the manifest.
			want := append(bytes.Clone(mod), custom(ManifestSection, []byte(tt.toml))...)
			if !bytes.Equal(out, want) {
				t.Fatalf("package is\n%x\nwant\n%x", out, want)
			}
			if p.WasmSize != len(mod) || p.Size != len(out) {
				t.Fatalf("sizes %d/%d, want %d/%d", p.WasmSize, p.Size, len(mod), len(out))
			}
			// The kernel's own section reader finds the same manifest.
			if data, ok := engine.CustomSection(out, ManifestSection); !ok || string(data) != tt.toml {
				t.Fatalf("engine.CustomSection: %q %v", data, ok)
			}
			// Packing is idempotent: same bytes, same digest.
			again, _, err := Pack(out, []byte(tt.toml))
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("re-pack: %v, same bytes %v", err, bytes.Equal(again, out))
			}
		})
	}
}

func TestOpen(t *testing.T) {
	mod := module()
	pkg := packed(t, helloTOML)
	sig := custom(SignatureSection, []byte("{}"))
	tests := []struct {
		name    string
		data    []byte
		class   error
		wantErr string
	}{
		{"package", pkg, nil, ""},
		{"manifest first", append(append([]byte(header), custom(ManifestSection, []byte(helloTOML))...), mod[headerLen:]...), nil, ""},
		{"plain module", mod, api.ErrBadManifest, "no orbital.manifest section"},
		{"two manifests", append(bytes.Clone(pkg), custom(ManifestSection, []byte(visionTOML))...), api.ErrBadModule, "2 orbital.manifest sections"},
		{"same manifest twice", append(bytes.Clone(pkg), custom(ManifestSection, []byte(helloTOML))...), api.ErrBadModule, "exactly one"},
		{"invalid manifest", append(bytes.Clone(mod), custom(ManifestSection, []byte("kind = \"app\"\n"))...), api.ErrBadManifest, "orbital.manifest:1: name: missing (required)"},
		{"too many signatures", append(bytes.Clone(pkg), bytes.Repeat(sig, MaxSignatures+1)...), api.ErrBadModule, "more than 32 orbital.signature sections"},
		{"malformed signature opens", append(bytes.Clone(pkg), sig...), nil, ""},
		{"garbage", []byte("hello"), api.ErrBadModule, "not a wasm binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(tt.data)
			if tt.class != nil {
				if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Manifest.Name != "example.com/hello" || p.Size != len(tt.data) || &p.Bytes()[0] != &tt.data[0] {
				t.Fatalf("package %s, size %d", p.Manifest, p.Size)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.orbital.wasm")
	bad := append(module(), custom(ManifestSection, []byte("version = \"1\"\n"))...)
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(path); !errors.Is(err, api.ErrBadManifest) || !strings.Contains(err.Error(), path+"#orbital.manifest:1") {
		t.Fatalf("OpenFile: %v", err)
	}
	if _, err := OpenFile(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenFile missing: %v", err)
	}
}

// TestDigest checks what the digest covers: everything but the signature
// sections, in order.
func TestDigest(t *testing.T) {
	pkg := packed(t, helloTOML)
	d := mustOpen(t, pkg).Digest
	if d != sha256.Sum256(pkg) {
		t.Fatal("an unsigned package's digest is not the sha256 of its bytes")
	}
	if got := d.String(); got != "sha256:"+d.Hex() || len(d.Hex()) != 64 {
		t.Fatalf("Digest.String() = %q", got)
	}
	signed := mustSign(t, mustSign(t, pkg, fixedKey("alice", 1)), fixedKey("bob", 2))
	if mustOpen(t, signed).Digest != d {
		t.Fatal("signing changed the digest")
	}
	// A signature section anywhere is left out.
	sigs, _ := walk(signed)
	first := signed[sigs[len(sigs)-1].start:sigs[len(sigs)-1].end]
	moved := append(append([]byte(header), first...), pkg[headerLen:]...)
	if mustOpen(t, moved).Digest != d {
		t.Fatal("a signature section before the code changed the digest")
	}
	changed := map[string][]byte{
		"code":           flip(pkg, codeByte(t, pkg)),
		"manifest":       replaceOnce(t, pkg, "1.0.0", "1.0.1"),
		"extra section":  append(bytes.Clone(pkg), custom("orbital.extra", nil)...),
		"custom renamed": replaceOnce(t, pkg, "producers", "producerz"),
	}
	for name, data := range changed {
		if mustOpen(t, data).Digest == d {
			t.Errorf("changing the %s kept the digest", name)
		}
	}
	// Re-packing keeps the digest: the manifest stays the last section.
	repacked, _, err := Pack(signed, []byte(helloTOML))
	if err != nil || mustOpen(t, repacked).Digest != d {
		t.Fatalf("re-pack: %v, digest changed", err)
	}
}

func TestPackFiles(t *testing.T) {
	mod := module()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A module directory: orbital.toml and one module (packages ignored).
	write("app/orbital.toml", []byte(helloTOML))
	write("app/main.wasm", mod)
	write("app/example.com_hello-1.0.0.orbital.wasm", packed(t, helloTOML))
	// NAME.wasm + NAME.orbital.toml.
	write("mods/vision.wasm", mod)
	write("mods/vision.orbital.toml", []byte(visionTOML))
	// A module with its manifest embedded and none beside it.
	embedded := write("embedded/x.wasm", mustSign(t, packed(t, visionTOML), fixedKey("a", 1)))
	// Two modules, none, no manifest.
	write("two/a.wasm", mod)
	write("two/b.wasm", mod)
	write("two/orbital.toml", []byte(helloTOML))
	write("none/orbital.toml", []byte(helloTOML))
	write("nomanifest/a.wasm", mod)
	write("bare/a.wasm", mod)

	tests := []struct {
		name, dir, file, manifest string
		want                      string // module name@version
		class                     error
		wantErr                   string
	}{
		{name: "dir", dir: "app", want: "example.com/hello@1.0.0"},
		{name: "file beside NAME.orbital.toml", file: "mods/vision.wasm", want: "vision@1.2.3"},
		{name: "file with orbital.toml", file: "app/main.wasm", want: "example.com/hello@1.0.0"},
		{name: "explicit manifest", file: "mods/vision.wasm", manifest: "app/orbital.toml", want: "example.com/hello@1.0.0"},
		{name: "embedded manifest", file: "embedded/x.wasm", want: "vision@1.2.3"},
		{name: "two modules", dir: "two", class: api.ErrInvalid, wantErr: "2 .wasm modules (a.wasm, b.wasm)"},
		{name: "no module", dir: "none", class: api.ErrNotFound, wantErr: "no .wasm module"},
		{name: "dir without manifest", dir: "nomanifest", class: api.ErrBadManifest, wantErr: "no orbital.toml"},
		{name: "file without manifest", file: "bare/a.wasm", class: api.ErrBadManifest, wantErr: "expected a.orbital.toml or orbital.toml beside it"},
		{name: "missing dir", dir: "nope", class: os.ErrNotExist},
		{name: "missing file", file: "nope.wasm", class: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []byte
			var m *manifest.Manifest
			var err error
			if tt.dir != "" {
				out, m, err = PackDir(filepath.Join(dir, tt.dir), Options{})
			} else {
				mp := ""
				if tt.manifest != "" {
					mp = filepath.Join(dir, tt.manifest)
				}
				out, m, err = PackFile(filepath.Join(dir, tt.file), mp, Options{})
			}
			if tt.class != nil {
				if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.String() != tt.want || mustOpen(t, out).Manifest.String() != tt.want {
				t.Fatalf("packed %s, want %s", m, tt.want)
			}
		})
	}
	if data, _ := os.ReadFile(embedded); !mustOpen(t, data).Signed() {
		t.Fatal("PackFile modified its input file")
	}
}

func TestFileName(t *testing.T) {
	for toml, want := range map[string]string{
		helloTOML:  "example.com_hello-1.0.0.orbital.wasm",
		visionTOML: "vision-1.2.3.orbital.wasm",
	} {
		m, err := manifest.Parse([]byte(toml), "")
		if err != nil {
			t.Fatal(err)
		}
		if got := FileName(m); got != want {
			t.Errorf("FileName(%s) = %q, want %q", m, got, want)
		}
	}
}

// TestRealModule packs, signs and verifies an example built by `make
// examples`.
func TestRealModule(t *testing.T) {
	wasmPath := testwasm.Path(t, "hello")
	out, m, err := PackFile(wasmPath, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := fixedKey("orbital-examples", 7)
	signed := mustSign(t, out, key)
	pol := DefaultPolicy()
	if err := pol.Trust("examples", key.Public(), m.Name); err != nil {
		t.Fatal(err)
	}
	v, err := pol.Verify(mustOpen(t, signed))
	if err != nil || !v.Accepted || v.Module != m.String() {
		t.Fatalf("verify: %v %+v", err, v)
	}
	orig, _ := os.ReadFile(wasmPath)
	if p := mustOpen(t, signed); p.WasmSize != len(orig) {
		t.Fatalf("WasmSize %d, module has %d bytes", p.WasmSize, len(orig))
	}
}
