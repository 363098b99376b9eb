package pack

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orbitalfoundation/orbital/api"
)

// MaxSignerLen is the longest signer name, in bytes.
const MaxSignerLen = 64

// PublicKeyPrefix starts the text form of a public key in trust.toml:
// "ed25519:" and the 32-byte key in standard base64.
const PublicKeyPrefix = "ed25519:"

// Key is a publisher's signing key.
type Key struct {
	// Name is written into the signatures the key makes ("signer"); it is a
	// label for humans, authenticated by the signature but trusted by
	// nothing. LoadPrivateKey sets it to the key file's base name.
	Name string
	// Private is the ed25519 private key.
	Private ed25519.PrivateKey
}

// GenerateKey makes a new ed25519 key from crypto/rand. name labels the
// signatures it makes (see ValidateSigner; it may be empty).
func GenerateKey(name string) (*Key, error) {
	if err := ValidateSigner(name); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Key{Name: name, Private: priv}, nil
}

// Public returns the key's public half.
func (k *Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// ID returns the key id of the key's public half (see KeyID).
func (k *Key) ID() string { return KeyID(k.Public()) }

// KeyID names a public key: the first 16 hex digits of the sha256 of its 32
// bytes. It is what signatures, policies and the CLI show.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// FormatPublicKey returns the text form of a public key used in trust.toml:
// "ed25519:" followed by the key in standard base64.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ValidateSigner checks a signer name: at most MaxSignerLen bytes of
// printable UTF-8 (letters, digits, punctuation, spaces), or empty.
func ValidateSigner(name string) error {
	if len(name) > MaxSignerLen {
		return fmt.Errorf("%w: signer name is too long (%d bytes, at most %d)", api.ErrInvalid, len(name), MaxSignerLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: signer name is not valid UTF-8", api.ErrInvalid)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: signer name %q has a non-printable character", api.ErrInvalid, name)
		}
	}
	return nil
}

// PEM block types: PKCS #8 and PKIX, as written by openssl, so the key files
// also work with other tools (openssl pkey -in NAME.key -pubout).
const (
	privateBlock = "PRIVATE KEY"
	publicBlock  = "PUBLIC KEY"
)

// MarshalPrivateKey returns the content of a private key file: a comment
// line, then the key as a PKCS #8 "PRIVATE KEY" PEM block.
func (k *Key) MarshalPrivateKey() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Orbital publisher private key %s%s. Keep it secret: it signs modules.\n", k.ID(), labelSuffix(k.Name))
	if err := pem.Encode(&b, &pem.Block{Type: privateBlock, Bytes: der}); err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return b.Bytes(), nil
}

// MarshalPublicKey returns the content of a public key file: a comment line
// naming the key id and the trust.toml form, then the key as a PKIX
// "PUBLIC KEY" PEM block. name is only written into the comment.
func MarshalPublicKey(pub ed25519.PublicKey, name string) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("marshal public key: %w: %d bytes, want %d", api.ErrInvalid, len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Orbital publisher public key %s%s: %s\n", KeyID(pub), labelSuffix(name), FormatPublicKey(pub))
	if err := pem.Encode(&b, &pem.Block{Type: publicBlock, Bytes: der}); err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return b.Bytes(), nil
}

func labelSuffix(name string) string {
	if name == "" || ValidateSigner(name) != nil {
		return ""
	}
	return fmt.Sprintf(" (%s)", name)
}

// ParsePrivateKey parses a private key file (see MarshalPrivateKey): text
// before the PEM block is ignored, the block must be an ed25519 PKCS #8
// "PRIVATE KEY" and nothing but whitespace may follow it. The Key's Name is
// empty. Errors wrap api.ErrInvalid.
func ParsePrivateKey(data []byte) (*Key, error) {
	der, err := onePEM(data, privateBlock)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: %w: %w", api.ErrInvalid, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %w: a %T, not an ed25519 key", api.ErrInvalid, k)
	}
	return &Key{Private: priv}, nil
}

// ParsePublicKey parses a public key: a public key file (see
// MarshalPublicKey; an ed25519 PKIX "PUBLIC KEY" PEM block) or the text form
// "ed25519:BASE64". Errors wrap api.ErrInvalid.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if s := strings.TrimSpace(string(data)); strings.HasPrefix(s, PublicKeyPrefix) {
		raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(s, PublicKeyPrefix))
		if err != nil {
			return nil, fmt.Errorf("public key: %w: %q is not base64: %w", api.ErrInvalid, s, err)
		}
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("public key: %w: %d bytes, an ed25519 key has %d", api.ErrInvalid, len(raw), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(raw), nil
	}
	der, err := onePEM(data, publicBlock)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key: %w: %w", api.ErrInvalid, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key: %w: a %T, not an ed25519 key", api.ErrInvalid, k)
	}
	return pub, nil
}

// onePEM returns the bytes of the single PEM block of type typ in data.
func onePEM(data []byte, typ string) ([]byte, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%w: no PEM %q block", api.ErrInvalid, typ)
	}
	if b.Type != typ {
		return nil, fmt.Errorf("%w: a PEM %q block, want %q", api.ErrInvalid, b.Type, typ)
	}
	if len(b.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM headers (an encrypted key?) are not supported", api.ErrInvalid)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", api.ErrInvalid)
	}
	return b.Bytes, nil
}

// LoadPrivateKey reads a private key file. It refuses a file that others
// may read or write (any group or other permission bit, except on Windows),
// like ssh does. The Key's Name is the file's base name without ".key" when
// that is a valid signer name.
func LoadPrivateKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private key %s: %w: mode %04o lets others read or change it; run chmod 600 %s", path, api.ErrInvalid, st.Mode().Perm(), path)
	}
	data, err := readAll(f, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if name := strings.TrimSuffix(filepath.Base(path), ".key"); ValidateSigner(name) == nil {
		k.Name = name
	}
	return k, nil
}

// LoadPublicKey reads a public key file (PEM, or the "ed25519:BASE64" text
// form).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	defer f.Close()
	data, err := readAll(f, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// readAll reads r, refusing more than limit bytes (a key file is tiny).
func readAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: larger than %d bytes", api.ErrTooLarge, limit)
	}
	return data, nil
}

// WriteKeyPair writes k to base+".key" (mode 0600) and its public half to
// base+".pub" (mode 0644), and returns both paths. Unless overwrite is set,
// it refuses (api.ErrExists) when either file exists, before writing
// anything.
func WriteKeyPair(k *Key, base string, overwrite bool) (keyPath, pubPath string, err error) {
	keyPath, pubPath = base+".key", base+".pub"
	priv, err := k.MarshalPrivateKey()
	if err != nil {
		return "", "", err
	}
	pub, err := MarshalPublicKey(k.Public(), k.Name)
	if err != nil {
		return "", "", err
	}
	if !overwrite {
		for _, p := range []string{keyPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return "", "", fmt.Errorf("write key: %w: %s (choose another name, or overwrite it explicitly)", api.ErrExists, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return "", "", fmt.Errorf("write key: %w", err)
			}
		}
	}
	if err := writeAtomic(keyPath, priv, 0o600, !overwrite); err != nil {
		return "", "", fmt.Errorf("write key: %w", err)
	}
	if err := writeAtomic(pubPath, pub, 0o644, !overwrite); err != nil {
		return "", "", fmt.Errorf("write key: %w", err)
	}
	return keyPath, pubPath, nil
}

// WriteFile writes data to path atomically: to a temporary file in the same
// directory, synced, then renamed over path, so a crash leaves the old file
// or the new one, never a mix. perm applies to a new file.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, data, perm, false)
}

// writeAtomic is WriteFile; with noClobber it fails when path exists (the
// temporary file is hard-linked to path instead of renamed over it).
func writeAtomic(path string, data []byte, perm fs.FileMode, noClobber bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if noClobber {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %w", api.ErrExists, err)
			}
			return err
		}
		return nil
	}
	return os.Rename(tmp, path)
}
