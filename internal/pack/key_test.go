package pack

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/orbitalfoundation/orbital/api"
)

func TestKeyFiles(t *testing.T) {
	k, err := GenerateKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(k.Public())
	if id := k.ID(); id != hex.EncodeToString(sum[:])[:16] || KeyID(k.Public()) != id {
		t.Fatalf("key id %q", id)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "alice")
	keyPath, pubPath, err := WriteKeyPair(k, base, false)
	if err != nil {
		t.Fatal(err)
	}
	if keyPath != base+".key" || pubPath != base+".pub" {
		t.Fatalf("paths %s %s", keyPath, pubPath)
	}
	for path, mode := range map[string]os.FileMode{keyPath: 0o600, pubPath: 0o644} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want mode %v", path, st.Mode(), err, mode)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("temporary files left: %v", entries)
	}
	loaded, err := LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Private.Equal(k.Private) || loaded.Name != "alice" {
		t.Fatalf("loaded key %s named %q", loaded.ID(), loaded.Name)
	}
	pub, err := LoadPublicKey(pubPath)
	if err != nil || !pub.Equal(k.Public()) {
		t.Fatalf("public key: %v", err)
	}
	data, _ := os.ReadFile(pubPath)
	if !strings.Contains(string(data), k.ID()+" (alice): "+FormatPublicKey(k.Public())) {
		t.Errorf("public key file lacks its id and text form:\n%s", data)
	}
	text, err := ParsePublicKey([]byte(" " + FormatPublicKey(k.Public()) + "\n"))
	if err != nil || !text.Equal(k.Public()) {
		t.Fatalf("text form: %v", err)
	}

	// Never overwritten by accident; the existing files stay as they were.
	other, _ := GenerateKey("")
	if _, _, err := WriteKeyPair(other, base, false); !errors.Is(err, api.ErrExists) {
		t.Fatalf("overwrite: %v", err)
	}
	if again, _ := LoadPrivateKey(keyPath); !again.Private.Equal(k.Private) {
		t.Fatal("the key was overwritten")
	}
	if _, _, err := WriteKeyPair(other, base, true); err != nil {
		t.Fatal(err)
	}
	if again, _ := LoadPrivateKey(keyPath); !again.Private.Equal(other.Private) {
		t.Fatal("the key was not overwritten")
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(keyPath, 0o640); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPrivateKey(keyPath); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("group-readable key: %v", err)
		}
	}
	odd := filepath.Join(dir, "bad\x01name.key")
	if err := os.WriteFile(odd, mustMarshal(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadPrivateKey(odd); err != nil || got.Name != "" {
		t.Fatalf("odd file name: %v %q", err, got.Name)
	}
	if _, err := LoadPrivateKey(filepath.Join(dir, "none.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := GenerateKey(strings.Repeat("x", MaxSignerLen+1)); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("long name: %v", err)
	}
}

func mustMarshal(t *testing.T, k *Key) []byte {
	t.Helper()
	b, err := k.MarshalPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKeys(t *testing.T) {
	k := fixedKey("alice", 1)
	priv := mustMarshal(t, k)
	pub, err := MarshalPublicKey(k.Public(), "")
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPriv, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	block := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: headers})
	}
	privDER, _ := pem.Decode(priv)
	tests := []struct {
		name    string
		data    []byte
		public  bool
		wantErr string
	}{
		{"private", priv, false, ""},
		{"public", pub, true, ""},
		{"empty", nil, false, "no PEM"},
		{"public as private", pub, false, `a PEM "PUBLIC KEY" block, want "PRIVATE KEY"`},
		{"private as public", priv, true, `want "PUBLIC KEY"`},
		{"ecdsa private", block("PRIVATE KEY", ecPriv, nil), false, "not an ed25519 key"},
		{"ecdsa public", block("PUBLIC KEY", ecPub, nil), true, "not an ed25519 key"},
		{"trailing data", append(bytes.Clone(priv), "junk"...), false, "data after the PEM block"},
		{"two keys", append(bytes.Clone(priv), priv...), false, "data after the PEM block"},
		{"encrypted", block("PRIVATE KEY", privDER.Bytes, map[string]string{"Proc-Type": "4,ENCRYPTED"}), false, "PEM headers"},
		{"bad DER", block("PRIVATE KEY", []byte{1, 2, 3}, nil), false, "invalid"},
		{"bad public DER", block("PUBLIC KEY", []byte{1, 2, 3}, nil), true, "invalid"},
		{"short text key", []byte("ed25519:AAAA"), true, "3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.public {
				var got []byte
				got, err = ParsePublicKey(tt.data)
				if err == nil && !bytes.Equal(got, k.Public()) {
					t.Fatal("wrong key")
				}
			} else {
				var got *Key
				got, err = ParsePrivateKey(tt.data)
				if err == nil && !got.Private.Equal(k.Private) {
					t.Fatal("wrong key")
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := MarshalPublicKey(k.Public()[:3], ""); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("short public key: %v", err)
	}
}

// TestKeysWithOpenSSL: the key files are standard PKCS #8 / PKIX PEM.
func TestKeysWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	k := fixedKey("alice", 1)
	dir := t.TempDir()
	keyPath, pubPath, err := WriteKeyPair(k, filepath.Join(dir, "alice"), false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-in", keyPath, "-pubout").CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unsupported") || strings.Contains(string(out), "unknown") {
			t.Skipf("this openssl has no ed25519: %s", out)
		}
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	got, err := ParsePublicKey(out)
	if err != nil || !got.Equal(k.Public()) {
		t.Fatalf("openssl's public key: %v\n%s", err, out)
	}
	if out, err := exec.Command(openssl, "pkey", "-pubin", "-in", pubPath, "-noout").CombinedOutput(); err != nil {
		t.Fatalf("openssl reading the public key: %v\n%s", err, out)
	}
}

func TestValidateSigner(t *testing.T) {
	for name, ok := range map[string]bool{
		"":                                  true,
		"alice":                             true,
		"Alice Ltd. <alice@example.com>":    true,
		"Zoë":                               true,
		strings.Repeat("x", MaxSignerLen):   true,
		strings.Repeat("x", MaxSignerLen+1): false,
		"a\tb":                              false,
		"a\u2028b":                          false,
		"\xff":                              false,
	} {
		if err := ValidateSigner(name); (err == nil) != ok {
			t.Errorf("ValidateSigner(%q) = %v", name, err)
		}
	}
}
