package pack

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orbitalfoundation/orbital/api"
)

// AlgorithmEd25519 is the only signature algorithm.
const AlgorithmEd25519 = "ed25519"

// MaxSignatureRecord is the largest signature record, in bytes.
const MaxSignatureRecord = 1024

// signingContext starts every signed message; see the package comment.
const signingContext = "orbital package signature v1\x00"

// Signature is the record in one "orbital.signature" section. On the wire
// it is one line of JSON, with exactly these fields in this order and
// nothing else (no spaces, standard padded base64, signer omitted when
// empty):
//
//	{"algorithm":"ed25519","key_id":"0123456789abcdef","public_key":"<32 bytes>","signature":"<64 bytes>","signer":"alice"}
//
// A record is decoded strictly: it must be byte for byte what Sign writes
// (so there is one encoding of each signature), key_id must be KeyID of
// public_key, and the signer name must pass ValidateSigner.
type Signature struct {
	Algorithm string            // AlgorithmEd25519
	KeyID     string            // KeyID(PublicKey)
	PublicKey ed25519.PublicKey // the signer's public key, 32 bytes
	Value     []byte            // the ed25519 signature, 64 bytes
	Signer    string            // the signer's name, for humans; authenticated, trusted by nothing
	// Err is set when the section does not decode; the fields above are
	// then those that did. It wraps ErrMalformedSignature.
	Err error
}

// record is the JSON form of a Signature.
type record struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	PublicKey []byte `json:"public_key"`
	Signature []byte `json:"signature"`
	Signer    string `json:"signer,omitempty"`
}

// Valid reports whether the signature verifies against digest. A malformed
// signature is never valid.
func (s Signature) Valid(d Digest) bool {
	if s.Err != nil || s.Algorithm != AlgorithmEd25519 || len(s.PublicKey) != ed25519.PublicKeySize || len(s.Value) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(s.PublicKey, signedMessage(d, s.Signer), s.Value)
}

// Label returns "KEYID (SIGNER)", or the key id alone without a signer name.
func (s Signature) Label() string {
	if s.Signer == "" {
		return s.KeyID
	}
	return fmt.Sprintf("%s (%s)", s.KeyID, s.Signer)
}

// signedMessage is what a signature signs: context, digest, signer name.
func signedMessage(d Digest, signer string) []byte {
	msg := make([]byte, 0, len(signingContext)+len(d)+len(signer))
	msg = append(msg, signingContext...)
	msg = append(msg, d[:]...)
	return append(msg, signer...)
}

// encode returns the record's canonical bytes.
func (s Signature) encode() []byte {
	b, err := json.Marshal(record{s.Algorithm, s.KeyID, s.PublicKey, s.Value, s.Signer})
	if err != nil { // only strings and byte slices: cannot happen
		panic("pack: encoding a signature record: " + err.Error())
	}
	return b
}

// decodeSignature decodes a signature record strictly; problems are
// reported in Signature.Err.
func decodeSignature(b []byte) Signature {
	bad := func(s Signature, format string, args ...any) Signature {
		s.Err = fmt.Errorf("%w: "+format, append([]any{ErrMalformedSignature}, args...)...)
		return s
	}
	if len(b) > MaxSignatureRecord {
		return bad(Signature{}, "%d bytes, at most %d", len(b), MaxSignatureRecord)
	}
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return bad(Signature{}, "not a signature record: %v", err)
	}
	s := Signature{Algorithm: r.Algorithm, KeyID: r.KeyID, PublicKey: r.PublicKey, Value: r.Signature, Signer: r.Signer}
	switch {
	case r.Algorithm != AlgorithmEd25519:
		return bad(s, "algorithm %q, want %q", r.Algorithm, AlgorithmEd25519)
	case len(r.PublicKey) != ed25519.PublicKeySize:
		return bad(s, "public key of %d bytes, want %d", len(r.PublicKey), ed25519.PublicKeySize)
	case len(r.Signature) != ed25519.SignatureSize:
		return bad(s, "signature of %d bytes, want %d", len(r.Signature), ed25519.SignatureSize)
	case r.KeyID != KeyID(r.PublicKey):
		return bad(s, "key id %q does not name the public key (%s)", r.KeyID, KeyID(r.PublicKey))
	}
	if err := ValidateSigner(r.Signer); err != nil {
		return bad(s, "%v", err)
	}
	if !bytes.Equal(s.encode(), b) {
		return bad(s, "not in canonical form (as written by orbital sign)")
	}
	return s
}

// Sign adds key's signature to a package and returns the signed package;
// pkg is not modified. The signature covers the package digest, which
// signing does not change, so signatures by several keys coexist; signing
// again with the same key replaces that key's signature (ed25519 is
// deterministic: the bytes come out the same). Sign refuses a package with a
// malformed signature section, or one whose existing signatures do not match
// it (it was changed after they were made): re-pack it to drop them. Errors
// wrap api.ErrBadModule, api.ErrBadManifest or api.ErrInvalid.
func Sign(pkg []byte, key *Key) ([]byte, error) {
	if key == nil || len(key.Private) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign: %w: no ed25519 private key", api.ErrInvalid)
	}
	if err := ValidateSigner(key.Name); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	p, err := Open(pkg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	for i, s := range p.Signatures {
		if s.Err != nil {
			return nil, fmt.Errorf("sign %s: %w: signature section %d: %w; re-pack the module to remove its signatures", p.Manifest, api.ErrBadModule, i+1, s.Err)
		}
		if !s.Valid(p.Digest) {
			return nil, fmt.Errorf("sign %s: %w: existing signature %d by key %s does not match the package (changed after it was signed); re-pack the module to remove its signatures", p.Manifest, api.ErrBadModule, i+1, s.Label())
		}
	}
	id := key.ID()
	s := Signature{
		Algorithm: AlgorithmEd25519,
		KeyID:     id,
		PublicKey: key.Public(),
		Value:     ed25519.Sign(key.Private, signedMessage(p.Digest, key.Name)),
		Signer:    key.Name,
	}
	secs, err := walk(pkg) // Open succeeded: cannot fail
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out := without(pkg, secs, func(sec section) bool {
		return isSignature(sec) && decodeSignature(sec.payload).KeyID == id
	})
	if n := countSignatures(out); n >= MaxSignatures {
		return nil, fmt.Errorf("sign %s: %w: the package already has %d signatures, the most allowed", p.Manifest, api.ErrLimit, n)
	}
	return append(out, customSection(SignatureSection, s.encode())...), nil
}

// countSignatures counts the signature sections of a well-formed binary.
func countSignatures(data []byte) int {
	secs, _ := walk(data)
	n := 0
	for _, s := range secs {
		if isSignature(s) {
			n++
		}
	}
	return n
}

// Errors that Policy.Verify wraps, each together with
// api.ErrPermissionDenied, so callers can tell why a package was refused.
var (
	// ErrUnsigned: the package has no signature and the policy does not
	// allow unsigned packages.
	ErrUnsigned = errors.New("package is not signed")
	// ErrTampered: a signature does not verify against the package digest:
	// the code or the manifest changed after it was signed (or the
	// signature was forged).
	ErrTampered = errors.New("signature does not match the package")
	// ErrUntrustedKey: the signatures are valid but by keys the policy does
	// not list.
	ErrUntrustedKey = errors.New("signed by an untrusted key")
	// ErrNameNotTrusted: a valid signature is by a key the policy trusts,
	// but not for this module's name.
	ErrNameNotTrusted = errors.New("key is not trusted for this module name")
	// ErrMalformedSignature: a signature section does not decode.
	ErrMalformedSignature = errors.New("malformed signature section")
)
