package pack

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
)

func TestSignVerify(t *testing.T) {
	alice, bob, carol := fixedKey("alice", 1), fixedKey("bob", 2), fixedKey("", 3)
	hello := packed(t, helloTOML)   // example.com/hello
	vision := packed(t, visionTOML) // vision
	trust := func(allowUnsigned bool, entries ...any) *Policy {
		p := &Policy{AllowUnsigned: allowUnsigned}
		for i := 0; i < len(entries); i += 2 {
			if err := p.Trust("", entries[i].(*Key).Public(), entries[i+1].([]string)...); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	aliceAll := trust(false, alice, []string{"example.com/*", "vision"})
	signedHello := mustSign(t, hello, alice)

	// forged re-encodes the last signature of data after edit.
	forged := func(data []byte, edit func(r *record)) []byte {
		p := mustOpen(t, data)
		s := p.Signatures[len(p.Signatures)-1]
		r := record{s.Algorithm, s.KeyID, s.PublicKey, s.Value, s.Signer}
		edit(&r)
		b, _ := json.Marshal(r)
		secs, _ := walk(data)
		last := secs[len(secs)-1]
		return append(bytes.Clone(data[:last.start]), custom(SignatureSection, b)...)
	}
	withSig := func(data []byte, payload string) []byte {
		return append(bytes.Clone(data), custom(SignatureSection, []byte(payload))...)
	}
	sigSection := func(data []byte) []byte {
		secs, _ := walk(data)
		last := secs[len(secs)-1]
		return data[last.start:last.end]
	}

	tests := []struct {
		name    string
		pkg     []byte
		policy  *Policy
		want    error  // nil: accepted
		reason  string // substring of Verdict.Reason or the error
		checks  []Status
		unsigne bool
	}{
		{"trusted for the namespace", signedHello, aliceAll, nil, "signed by " + alice.ID() + " (alice), trusted for example.com/*", []Status{StatusTrusted}, false},
		{"trusted for the exact name", mustSign(t, vision, alice), aliceAll, nil, "trusted for vision", []Status{StatusTrusted}, false},
		{"trusted for everything", signedHello, trust(false, alice, []string{"*"}), nil, "trusted for *", nil, false},
		{"publisher label shown", signedHello, &Policy{Publishers: []Publisher{{Name: "Alice Ltd", Key: alice.Public(), Modules: []string{"example.com/*"}}}}, nil, `trusted as "Alice Ltd"`, nil, false},
		{"second signature trusted", mustSign(t, signedHello, bob), trust(false, bob, []string{"example.com/hello"}), nil, "signed by " + bob.ID(), []Status{StatusUntrusted, StatusTrusted}, false},
		{"signer without a name", mustSign(t, hello, carol), trust(false, carol, []string{"example.com/*"}), nil, "signed by " + carol.ID() + ", trusted", nil, false},
		{"signature before the code", append(append([]byte(header), sigSection(signedHello)...), hello[headerLen:]...), aliceAll, nil, "trusted", nil, false},
		{"same section appended twice", append(bytes.Clone(signedHello), sigSection(signedHello)...), aliceAll, nil, "trusted", []Status{StatusTrusted, StatusTrusted}, false},

		{"missing signature", hello, aliceAll, ErrUnsigned, "no signature, and the trust policy does not allow unsigned modules", nil, false},
		{"default policy, unsigned", hello, DefaultPolicy(), ErrUnsigned, "", nil, false},
		{"default policy, signed", signedHello, DefaultPolicy(), ErrUntrustedKey, "valid signature by key " + alice.ID() + " (alice), which the trust policy does not list", []Status{StatusUntrusted}, false},
		{"nil policy", signedHello, nil, ErrUntrustedKey, "", nil, false},
		{"wrong key", mustSign(t, hello, bob), aliceAll, ErrUntrustedKey, bob.ID(), []Status{StatusUntrusted}, false},
		{"key trusted for another prefix", signedHello, trust(false, alice, []string{"acme.*", "vision"}), ErrNameNotTrusted, `module name "example.com/hello": key ` + alice.ID() + " (alice) is trusted for acme.*, vision only", []Status{StatusWrongName}, false},
		{"subdomains are not the namespace", signedHello, trust(false, alice, []string{"example.com.*"}), ErrNameNotTrusted, "", nil, false},
		{"code changed", flip(signedHello, codeByte(t, signedHello)), aliceAll, ErrTampered, "signature 1 by key " + alice.ID() + " (alice) does not verify against digest sha256:", []Status{StatusInvalid}, false},
		{"manifest changed", replaceOnce(t, signedHello, "1.0.0", "9.0.0"), aliceAll, ErrTampered, "changed after it was signed", nil, false},
		{"name changed to a trusted one", replaceOnce(t, mustSign(t, packed(t, strings.Replace(helloTOML, "example.com/", "examplx.com/", 1)), alice), "examplx", "example"), aliceAll, ErrTampered, "", nil, false},
		{"section added", append(bytes.Clone(signedHello), custom("orbital.extra", []byte("x"))...), aliceAll, ErrTampered, "", nil, false},
		{"signature bytes changed", forged(signedHello, func(r *record) { r.Signature[10] ^= 1 }), aliceAll, ErrTampered, "", nil, false},
		{"signer name changed", forged(signedHello, func(r *record) { r.Signer = "alicf" }), aliceAll, ErrTampered, "", nil, false},
		{"key swapped for a trusted one", forged(mustSign(t, hello, bob), func(r *record) { r.PublicKey, r.KeyID = alice.Public(), alice.ID() }), aliceAll, ErrTampered, "", nil, false},
		{"tampered next to a trusted one", append(forged(mustSign(t, hello, bob), func(r *record) { r.Signature[0] ^= 1 }), sigSection(signedHello)...), aliceAll, ErrTampered, "signature 1 by key " + bob.ID(), nil, false},
		{"tampered with unsigned allowed", flip(signedHello, codeByte(t, signedHello)), trust(true), ErrTampered, "", nil, false},

		{"malformed: not JSON", withSig(hello, "garbage"), aliceAll, ErrMalformedSignature, "signature section 1: not a signature record", []Status{StatusMalformed}, false},
		{"malformed: unknown field", withSig(hello, `{"algorithm":"ed25519","extra":1}`), aliceAll, ErrMalformedSignature, "unknown field", nil, false},
		{"malformed: algorithm", forged(signedHello, func(r *record) { r.Algorithm = "rsa" }), aliceAll, ErrMalformedSignature, `algorithm "rsa", want "ed25519"`, nil, false},
		{"malformed: key id", forged(signedHello, func(r *record) { r.KeyID = bob.ID() }), aliceAll, ErrMalformedSignature, "does not name the public key", nil, false},
		{"malformed: short key", forged(signedHello, func(r *record) { r.PublicKey = r.PublicKey[:31] }), aliceAll, ErrMalformedSignature, "public key of 31 bytes", nil, false},
		{"malformed: short signature", forged(signedHello, func(r *record) { r.Signature = r.Signature[:63] }), aliceAll, ErrMalformedSignature, "signature of 63 bytes", nil, false},
		{"malformed: signer", forged(signedHello, func(r *record) { r.Signer = "a\nb" }), aliceAll, ErrMalformedSignature, "non-printable", nil, false},
		{"malformed: not canonical", withSig(hello, strings.Replace(string(mustOpen(t, signedHello).Signatures[0].encode()), ",", ", ", 1)), aliceAll, ErrMalformedSignature, "not in canonical form", nil, false},
		{"malformed: duplicate field", withSig(hello, strings.Replace(string(mustOpen(t, signedHello).Signatures[0].encode()), `{"algorithm":"ed25519",`, `{"algorithm":"x","algorithm":"ed25519",`, 1)), aliceAll, ErrMalformedSignature, "canonical", nil, false},
		{"malformed: trailing data", withSig(hello, string(mustOpen(t, signedHello).Signatures[0].encode())+"\n"), aliceAll, ErrMalformedSignature, "canonical", nil, false},
		{"malformed: too large", withSig(hello, strings.Repeat(" ", MaxSignatureRecord+1)), aliceAll, ErrMalformedSignature, "1025 bytes, at most 1024", nil, false},
		{"malformed next to a trusted one", withSig(signedHello, "{}"), aliceAll, ErrMalformedSignature, "signature section 2", nil, false},

		{"unsigned allowed", hello, trust(true), nil, "unsigned (allowed by policy)", nil, true},
		{"untrusted allowed as unsigned", mustSign(t, hello, bob), trust(true, alice, []string{"vision"}), nil, "no trusted signature; accepted as unsigned (allowed by policy)", []Status{StatusUntrusted}, true},
		{"trusted wins over allow unsigned", signedHello, trust(true, alice, []string{"example.com/*"}), nil, "signed by", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(tt.pkg)
			if err != nil {
				t.Fatal(err)
			}
			v, err := tt.policy.Verify(p)
			text := v.Reason
			if tt.want == nil {
				if err != nil || !v.Accepted {
					t.Fatalf("refused: %v (%s)", err, v)
				}
				if v.Unsigned != tt.unsigne || (v.By == nil) != tt.unsigne {
					t.Fatalf("Unsigned %v, By %v", v.Unsigned, v.By)
				}
			} else {
				if !errors.Is(err, tt.want) || !errors.Is(err, api.ErrPermissionDenied) || v.Accepted {
					t.Fatalf("err = %v (accepted %v), want %v and permission denied", err, v.Accepted, tt.want)
				}
				if !strings.HasPrefix(err.Error(), "verify "+p.Manifest.String()+": permission denied: "+tt.want.Error()+": ") {
					t.Fatalf("error %q lacks its context", err)
				}
				text = err.Error()
				if !strings.HasPrefix(v.Reason, "refused: ") {
					t.Fatalf("reason %q", v.Reason)
				}
			}
			if !strings.Contains(text, tt.reason) {
				t.Fatalf("%q lacks %q", text, tt.reason)
			}
			if v.Digest != p.Digest || v.Module != p.Manifest.String() {
				t.Fatalf("verdict for %s %s, package %s %s", v.Module, v.Digest, p.Manifest, p.Digest)
			}
			if tt.checks != nil {
				var got []Status
				for _, c := range v.Checks {
					got = append(got, c.Status)
				}
				if strings.Join(statusStrings(got), ",") != strings.Join(statusStrings(tt.checks), ",") {
					t.Fatalf("checks %v, want %v", got, tt.checks)
				}
			}
		})
	}
}

func statusStrings(s []Status) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

// TestVerifyRereadsBytes: Verify judges the bytes, not the fields Open
// filled in.
func TestVerifyRereadsBytes(t *testing.T) {
	alice, bob := fixedKey("alice", 1), fixedKey("bob", 2)
	pol := &Policy{}
	if err := pol.Trust("alice", alice.Public(), "vision"); err != nil {
		t.Fatal(err)
	}
	// Signed by alice, but for a name she is not trusted for.
	p := mustOpen(t, mustSign(t, packed(t, helloTOML), alice))
	p.Manifest.Name = "vision"
	if _, err := pol.Verify(p); !errors.Is(err, ErrNameNotTrusted) {
		t.Fatalf("a rewritten Manifest.Name was trusted: %v", err)
	}
	// Unsigned, with a valid signature of another package pasted into the fields.
	other := mustOpen(t, mustSign(t, packed(t, visionTOML), alice))
	p = mustOpen(t, packed(t, visionTOML+"description = \"other\"\n"))
	p.Signatures, p.Digest = other.Signatures, other.Digest
	if _, err := pol.Verify(p); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("stored signatures were trusted: %v", err)
	}
	if _, err := pol.Verify(nil); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("Verify(nil): %v", err)
	}
	if _, err := pol.Verify(&Package{}); !errors.Is(err, api.ErrBadModule) {
		t.Fatalf("Verify(empty): %v", err)
	}
	// An invalid policy is an error, not a verdict.
	bad := &Policy{Publishers: []Publisher{{Key: bob.Public()[:5], Modules: []string{"*"}}}}
	if _, err := bad.Verify(other); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("invalid policy: %v", err)
	}
}

func TestSign(t *testing.T) {
	alice, bob := fixedKey("alice", 1), fixedKey("bob", 2)
	pkg := packed(t, helloTOML)
	once := mustSign(t, pkg, alice)
	if !bytes.Equal(mustSign(t, once, alice), once) {
		t.Fatal("signing twice with the same key did not give the same package")
	}
	both := mustSign(t, once, bob)
	again := mustSign(t, both, alice) // alice's signature is replaced, moving to the end
	p := mustOpen(t, again)
	if len(p.Signatures) != 2 || p.Signatures[0].Signer != "bob" || p.Signatures[1].Signer != "alice" {
		t.Fatalf("signatures %+v", p.Signatures)
	}
	renamed := *alice
	renamed.Name = "alice@work"
	p = mustOpen(t, mustSign(t, once, &renamed))
	if len(p.Signatures) != 1 || p.Signatures[0].Signer != "alice@work" || !p.Signatures[0].Valid(p.Digest) {
		t.Fatalf("re-signing under another name: %+v", p.Signatures)
	}
	if !bytes.Equal(pkg, packed(t, helloTOML)) {
		t.Fatal("Sign modified its input")
	}

	full := pkg
	for i := 0; i < MaxSignatures; i++ {
		full = mustSign(t, full, fixedKey("k", byte(10+i)))
	}
	tests := []struct {
		name    string
		pkg     []byte
		key     *Key
		class   error
		wantErr string
	}{
		{"not a package", module(), alice, api.ErrBadManifest, "not a package"},
		{"not wasm", []byte("x"), alice, api.ErrBadModule, "not a wasm binary"},
		{"no key", pkg, nil, api.ErrInvalid, "no ed25519 private key"},
		{"short key", pkg, &Key{Private: alice.Private[:10]}, api.ErrInvalid, "no ed25519 private key"},
		{"bad signer name", pkg, &Key{Name: "a\x00", Private: alice.Private}, api.ErrInvalid, "non-printable"},
		{"malformed signature", append(bytes.Clone(once), custom(SignatureSection, []byte("x"))...), bob, api.ErrBadModule, "signature section 2: malformed signature section: not a signature record"},
		{"stale signature", flip(once, codeByte(t, once)), bob, api.ErrBadModule, "existing signature 1 by key " + alice.ID() + " (alice) does not match the package"},
		{"too many signatures", full, bob, api.ErrLimit, "already has 32 signatures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(tt.pkg, tt.key)
			if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.wantErr)
			}
		})
	}
	// A full package can still be re-signed by one of its signers.
	if _, err := Sign(full, fixedKey("k", 10)); err != nil {
		t.Fatal(err)
	}
}

func TestPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		valid   bool
		match   []string
		nomatch []string
	}{
		{"*", true, []string{"vision", "example.com/x", "a.b"}, nil},
		{"vision", true, []string{"vision"}, []string{"vision2", "vision.x", "visio"}},
		{"example.com/*", true, []string{"example.com/x", "example.com/vision-2"}, []string{"example.com", "example.com.evil/x", "example.co/x", "x.example.com/y"}},
		{"acme.*", true, []string{"acme.cam", "acme.cam.x", "acme.cam/driver"}, []string{"acme", "acmex.cam", "acme"}},
		{"example.com/shrink", true, []string{"example.com/shrink"}, []string{"example.com/shrin"}},
		{"", false, nil, nil},
		{"vision*", false, nil, nil},
		{"*.com", false, nil, nil},
		{"a/*/b", false, nil, nil},
		{"a/b/*", false, nil, nil},
		{"/*", false, nil, nil},
		{".*", false, nil, nil},
		{"**", false, nil, nil},
		{"Vision", false, nil, nil},
		{"example.com/**", false, nil, nil},
	}
	for _, tt := range tests {
		err := ValidatePattern(tt.pattern)
		if (err == nil) != tt.valid {
			t.Errorf("ValidatePattern(%q) = %v, want valid %v", tt.pattern, err, tt.valid)
			continue
		}
		if err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ValidatePattern(%q) = %v, not ErrInvalid", tt.pattern, err)
		}
		for _, n := range tt.match {
			if !MatchName(tt.pattern, n) {
				t.Errorf("%q does not match %q", tt.pattern, n)
			}
		}
		for _, n := range tt.nomatch {
			if MatchName(tt.pattern, n) {
				t.Errorf("%q matches %q", tt.pattern, n)
			}
		}
	}
}

func TestPolicyFile(t *testing.T) {
	alice, bob := fixedKey("alice", 1), fixedKey("bob", 2)
	pol := DefaultPolicy()
	if err := pol.Trust("Alice", alice.Public(), "example.com/*"); err != nil {
		t.Fatal(err)
	}
	if err := pol.Trust("", alice.Public(), "vision", "example.com/*"); err != nil { // merged
		t.Fatal(err)
	}
	if err := pol.Trust("", bob.Public(), "*"); err != nil {
		t.Fatal(err)
	}
	pol.AllowUnsigned = true
	path := filepath.Join(t.TempDir(), "home", PolicyFile)
	if err := pol.Save(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	t.Logf("%s", data)
	got, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.AllowUnsigned || len(got.Publishers) != 2 ||
		got.Publishers[0].Name != "Alice" || strings.Join(got.Publishers[0].Modules, " ") != "example.com/* vision" ||
		!bytes.Equal(got.Publishers[1].Key, bob.Public()) || got.Publishers[1].Name != "" {
		t.Fatalf("loaded %+v", got)
	}
	for _, s := range []string{"allow_unsigned = true", "[[publisher]]", `key = "ed25519:`, `key_id = "` + alice.ID() + `"`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("trust.toml lacks %q", s)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o664); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPolicy(path); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "chmod go-w") {
			t.Fatalf("group-writable policy: %v", err)
		}
	}
	if _, err := LoadPolicy(filepath.Join(t.TempDir(), "none.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing policy: %v", err)
	}
	empty, err := ParsePolicy(nil, "")
	if err != nil || empty.AllowUnsigned || len(empty.Publishers) != 0 {
		t.Fatalf("empty policy: %+v %v", empty, err)
	}

	key := FormatPublicKey(alice.Public())
	tests := []struct {
		name, toml, wantErr string
	}{
		{"unknown key", "allow_unsigend = true", "unknown key allow_unsigend"},
		{"unknown publisher key", "[[publisher]]\nkey = \"" + key + "\"\nmodules = [\"*\"]\ntrusted = true", "unknown key publisher.trusted"},
		{"wrong type", "allow_unsigned = \"yes\"", "trust.toml: invalid"},
		{"not TOML", "[[publisher", "trust.toml: invalid"},
		{"no key", "[[publisher]]\nmodules = [\"*\"]", "key is required"},
		{"key without prefix", "[[publisher]]\nkey = \"" + strings.TrimPrefix(key, "ed25519:") + "\"\nmodules = [\"*\"]", `key must start with "ed25519:"`},
		{"key not base64", "[[publisher]]\nkey = \"ed25519:!!\"\nmodules = [\"*\"]", "is not base64"},
		{"short key", "[[publisher]]\nkey = \"ed25519:" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\"\nmodules = [\"*\"]", "31 bytes"},
		{"key id mismatch", "[[publisher]]\nkey = \"" + key + "\"\nkey_id = \"" + bob.ID() + "\"\nmodules = [\"*\"]", "does not match the key (its id is " + alice.ID()},
		{"no modules", "[[publisher]]\nkey = \"" + key + "\"", "trusted for no modules"},
		{"bad pattern", "[[publisher]]\nkey = \"" + key + "\"\nmodules = [\"vis*\"]", `publisher[0]: invalid: module pattern "vis*"`},
		{"duplicate key", "[[publisher]]\nkey = \"" + key + "\"\nmodules = [\"a\"]\n[[publisher]]\nkey = \"" + key + "\"\nmodules = [\"b\"]", "already listed as publisher[0]"},
		{"bad label", "[[publisher]]\nname = \"a\\u0007\"\nkey = \"" + key + "\"\nmodules = [\"a\"]", "non-printable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tt.toml), "")
			if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}

	if err := pol.Trust("", alice.Public()); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("Trust without patterns: %v", err)
	}
	if err := pol.Trust("", alice.Public(), "x*"); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("Trust with a bad pattern: %v", err)
	}
	if err := pol.Trust("", alice.Public()[:3], "x"); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("Trust with a short key: %v", err)
	}
	bad := &Policy{Publishers: []Publisher{{Key: alice.Public()}}}
	if err := bad.Save(path); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("Save of an invalid policy: %v", err)
	}
}
