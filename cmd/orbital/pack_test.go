package main

// In-process tests of orbital pack, keygen, sign and verify.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/internal/pack"
)

const packTOML = `name = "example.com/exit"
version = "1.2.0"
kind = "app"
`

// packFixture makes a module directory (app/main.wasm + app/orbital.toml)
// in a fresh working directory and returns that directory.
func packFixture(t *testing.T, code int32) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("app", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, "app", "main.wasm", exitModule(code))
	writeFile(t, "app", "orbital.toml", []byte(packTOML))
	return dir
}

// wantCLI runs orbital and checks its exit code and output.
func wantCLI(t *testing.T, code int, stdout, stderr []string, args ...string) (string, string) {
	t.Helper()
	got, out, errOut := runCLI(t, "", args...)
	if got != code {
		t.Fatalf("orbital %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, errOut)
	}
	for _, s := range stdout {
		if !strings.Contains(out, s) {
			t.Fatalf("orbital %s: stdout lacks %q:\n%s", strings.Join(args, " "), s, out)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(errOut, s) {
			t.Fatalf("orbital %s: stderr lacks %q:\n%s", strings.Join(args, " "), s, errOut)
		}
	}
	return out, errOut
}

var digestRE = regexp.MustCompile(`digest\s+(sha256:[0-9a-f]{64})\n`)

func TestPackSignVerifyCLI(t *testing.T) {
	home := newHome(t)
	dir := packFixture(t, 7)
	const pkg = "example.com_exit-1.2.0.orbital.wasm"

	out, _ := wantCLI(t, exitOK, []string{"package  " + pkg + "\n", "module   example.com/exit@1.2.0 (app)\n", "digest   sha256:"}, nil, "pack", "app")
	digest := digestRE.FindStringSubmatch(out)[1]
	// The package runs like any module: its manifest is embedded.
	wantCLI(t, 7, nil, nil, "run", "-q", pkg)

	out, _ = wantCLI(t, exitOK, []string{"key id", "alice.key (keep it secret)", "alice.pub", "[[publisher]]\nname = \"alice\"\nkey = \"ed25519:"}, nil, "keygen", "-o", "alice")
	if st, err := os.Stat("alice.key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("alice.key: %v %v", st.Mode(), err)
	}
	aliceID := regexp.MustCompile(`key id\s+([0-9a-f]{16})`).FindStringSubmatch(out)[1]
	wantCLI(t, exitOK, nil, nil, "keygen", "-o", filepath.Join(dir, "bob"))

	// Unsigned: refused by every policy that does not allow it.
	wantCLI(t, exitNoPerm, []string{"signatures  none", "verdict     refused: package is not signed"},
		[]string{"no trust policy at " + filepath.Join(home, "trust.toml") + ": trusting no key", "permission denied: package is not signed"}, "verify", pkg)

	out, _ = wantCLI(t, exitOK, []string{"package     " + pkg, "digest      " + digest, "signed by   " + aliceID + " (alice)", "signatures  1"}, nil, "sign", "--key", "alice.key", pkg)
	wantCLI(t, exitOK, []string{"signatures  2"}, nil, "sign", pkg, "--key", "bob.key", "--name", "Bob Ltd")

	wantCLI(t, exitOK, []string{
		"digest     " + digest + "\n",
		"signature  " + aliceID + " (alice): valid, trusted for example.com/*\n",
		" (Bob Ltd): valid, untrusted key\n",
		"verdict    accepted: signed by " + aliceID + " (alice), trusted for example.com/*\n",
	}, nil, "verify", "--pub", "alice.pub", "--for", "example.com/*", pkg)
	wantCLI(t, exitNoPerm, []string{"valid, not trusted for this name", "verdict    refused: key is not trusted for this module name"},
		[]string{`permission denied: key is not trusted for this module name: module name "example.com/exit": key ` + aliceID + " (alice) is trusted for vision, acme.* only"},
		"verify", "--pub", "alice.pub", "--for", "vision", "--for", "acme.*", pkg)

	// The device's trust.toml.
	pol := pack.DefaultPolicy()
	bobKey, err := pack.LoadPublicKey("bob.pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := pol.Trust("bob", bobKey, "example.com/exit"); err != nil {
		t.Fatal(err)
	}
	if err := pol.Save(filepath.Join(home, pack.PolicyFile)); err != nil {
		t.Fatal(err)
	}
	wantCLI(t, exitOK, []string{`trusted as "bob" for example.com/exit`}, nil, "verify", pkg)
	if err := pol.Save("other-trust.toml"); err != nil {
		t.Fatal(err)
	}
	wantCLI(t, exitOK, nil, nil, "verify", "--trust", "other-trust.toml", pkg)

	// Tampered code: refused whoever signed it.
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte{0x41, 0x07, 0x10, 0x00, 0x0b}) // i32.const 7; call proc_exit
	if i < 0 {
		t.Fatal("code not found")
	}
	data[i+1] = 0
	writeFile(t, dir, "tampered.wasm", data)
	wantCLI(t, exitNoPerm, []string{"does not match", "verdict    refused: signature does not match the package"},
		[]string{"permission denied: signature does not match the package: signature 1 by key " + aliceID + " (alice) does not verify"}, "verify", "tampered.wasm")
	wantCLI(t, exitBadInput, nil, []string{"does not match the package (changed after it was signed); re-pack"}, "sign", "--key", "alice.key", "tampered.wasm")

	// Re-packing drops the signatures and keeps the digest; -o leaves the input alone.
	wantCLI(t, exitOK, []string{"digest   " + digest}, nil, "pack", pkg, "-o", "repacked.wasm")
	wantCLI(t, exitOK, []string{"signatures  1"}, nil, "sign", "--key", "alice.key", "repacked.wasm", "-o", "signed-copy.wasm")
	if p, err := pack.OpenFile("repacked.wasm"); err != nil || p.Signed() {
		t.Fatalf("repacked.wasm: %v, signed %v", err, p != nil && p.Signed())
	}

	// Development devices may allow unsigned modules, explicitly.
	writeFile(t, dir, "dev.toml", []byte("allow_unsigned = true\n"))
	wantCLI(t, exitOK, []string{"verdict     accepted: unsigned (allowed by policy)"}, nil, "verify", "--trust", "dev.toml", "repacked.wasm")
}

func TestPackCLIErrors(t *testing.T) {
	newHome(t)
	dir := packFixture(t, 0)
	writeFile(t, dir, "notwasm.wasm", []byte("hello"))
	writeFile(t, dir, "plain.wasm", exitModule(0))
	writeFile(t, dir, "bad.toml", []byte("allow_unsigned = 1\n"))
	writeFile(t, dir, "junk.key", []byte("junk"))
	writeFile(t, dir, "open.key", []byte("x"))
	if err := os.Chmod("open.key", 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod("junk.key", 0o600); err != nil {
		t.Fatal(err)
	}
	wantCLI(t, exitOK, nil, nil, "pack", "app", "-o", "pkg.wasm")
	wantCLI(t, exitOK, nil, nil, "keygen")

	tests := []struct {
		name   string
		args   []string
		want   int
		stderr []string
	}{
		{"pack without args", []string{"pack"}, exitUsage, []string{"expected exactly one DIR or MODULE.wasm"}},
		{"pack two args", []string{"pack", "app", "pkg.wasm"}, exitUsage, []string{"expected exactly one"}},
		{"pack missing", []string{"pack", "nope"}, exitUsage, []string{"no such file"}},
		{"pack not wasm", []string{"pack", "notwasm.wasm", "--manifest", "app/orbital.toml"}, exitBadInput, []string{"bad module: not a wasm binary"}},
		{"pack without manifest", []string{"pack", "plain.wasm"}, exitBadInput, []string{"no manifest: expected plain.orbital.toml or orbital.toml beside it"}},
		{"pack bad manifest", []string{"pack", "plain.wasm", "--manifest", "bad.toml"}, exitBadInput, []string{"bad.toml:1: name: missing (required)"}},
		{"pack dir with --manifest", []string{"pack", "app", "--manifest", "bad.toml"}, exitUsage, []string{"--manifest applies to a MODULE.wasm"}},
		{"pack different manifest", []string{"pack", "pkg.wasm", "--manifest", "other.toml"}, exitBadInput, []string{"already embeds the manifest of example.com/exit@1.2.0; replace it explicitly (orbital pack --replace)"}},
		{"pack unknown flag", []string{"pack", "--frob", "app"}, exitUsage, []string{"flag provided but not defined: -frob"}},
		{"keygen existing", []string{"keygen"}, exitUsage, []string{"already exists: orbital.key"}},
		{"keygen argument", []string{"keygen", "alice"}, exitUsage, []string{"takes no arguments (name the files with -o NAME)"}},
		{"sign without key", []string{"sign", "pkg.wasm"}, exitUsage, []string{"--key NAME.key is required"}},
		{"sign without package", []string{"sign", "--key", "orbital.key"}, exitUsage, []string{"expected exactly one PACKAGE"}},
		{"sign missing key", []string{"sign", "--key", "nope.key", "pkg.wasm"}, exitUsage, []string{"nope.key"}},
		{"sign junk key", []string{"sign", "--key", "junk.key", "pkg.wasm"}, exitBadInput, []string{"junk.key: private key: invalid: no PEM"}},
		{"sign readable key", []string{"sign", "--key", "open.key", "pkg.wasm"}, exitBadInput, []string{"mode 0644", "chmod 600 open.key"}},
		{"sign plain module", []string{"sign", "--key", "orbital.key", "plain.wasm"}, exitBadInput, []string{"not a package: the module has no orbital.manifest section (run orbital pack)"}},
		{"sign bad signer", []string{"sign", "--key", "orbital.key", "--name", "a\tb", "pkg.wasm"}, exitBadInput, []string{"non-printable"}},
		{"verify without package", []string{"verify"}, exitUsage, []string{"expected exactly one PACKAGE"}},
		{"verify --pub without --for", []string{"verify", "--pub", "orbital.pub", "pkg.wasm"}, exitUsage, []string{"--pub needs --for PATTERN"}},
		{"verify --for without --pub", []string{"verify", "--for", "*", "pkg.wasm"}, exitUsage, []string{"give --pub too"}},
		{"verify --trust and --pub", []string{"verify", "--trust", "bad.toml", "--pub", "orbital.pub", "--for", "*", "pkg.wasm"}, exitUsage, []string{"not both"}},
		{"verify bad pattern", []string{"verify", "--pub", "orbital.pub", "--for", "vis*", "pkg.wasm"}, exitBadInput, []string{`module pattern "vis*"`}},
		{"verify bad public key", []string{"verify", "--pub", "junk.key", "--for", "*", "pkg.wasm"}, exitBadInput, []string{"no PEM"}},
		{"verify missing trust file", []string{"verify", "--trust", "nope.toml", "pkg.wasm"}, exitUsage, []string{"nope.toml"}},
		{"verify bad trust file", []string{"verify", "--trust", "bad.toml", "pkg.wasm"}, exitBadInput, []string{"bad.toml: invalid"}},
		{"verify plain module", []string{"verify", "--pub", "orbital.pub", "--for", "*", "plain.wasm"}, exitBadInput, []string{"plain.wasm: bad manifest: not a package"}},
		{"verify not wasm", []string{"verify", "--pub", "orbital.pub", "--for", "*", "notwasm.wasm"}, exitBadInput, []string{"bad module"}},
		{"verify untrusted key", []string{"verify", "--pub", "orbital.pub", "--for", "*", "pkg.wasm"}, exitNoPerm, []string{"package is not signed"}},
	}
	writeFile(t, dir, "other.toml", []byte(strings.Replace(packTOML, "1.2.0", "1.3.0", 1)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := wantCLI(t, tt.want, nil, tt.stderr, tt.args...)
			if tt.want != exitNoPerm && out != "" {
				t.Fatalf("a failed command printed to stdout:\n%s", out)
			}
		})
	}
	for _, c := range []string{"pack", "keygen", "sign", "verify"} {
		wantCLI(t, exitOK, []string{"Usage: orbital " + c}, nil, "help", c)
		wantCLI(t, exitOK, []string{"Usage: orbital " + c}, nil, c, "--help")
	}
	wantCLI(t, exitOK, []string{"\n  pack ", "\n  keygen ", "\n  sign ", "\n  verify "}, nil, "help")
}
