package pack

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// PolicyFile is the trust policy's file name in the data directory.
const PolicyFile = "trust.toml"

// Policy says which packages a device accepts: those with a valid signature
// by a publisher key trusted for the module's name, and, only if
// AllowUnsigned is set, those without one. The zero Policy, DefaultPolicy
// and a nil *Policy trust nothing.
//
// On disk (trust.toml) it is strict TOML, unknown keys refused:
//
//	allow_unsigned = false                  # true only on development devices
//
//	[[publisher]]
//	name = "alice"                          # optional label for humans
//	key = "ed25519:BASE64"                  # the publisher's public key (orbital keygen prints it)
//	key_id = "0123456789abcdef"             # optional; checked against key when present
//	modules = ["example.com/*", "vision"]   # names the key may sign; see ValidatePattern
type Policy struct {
	// AllowUnsigned accepts packages that carry no signature by a trusted
	// key (unsigned, or signed only by unknown keys) for local development.
	// A malformed or non-matching signature is refused even then.
	AllowUnsigned bool
	// Publishers are the trusted keys, each for some module names.
	Publishers []Publisher
}

// Publisher is a trusted publisher key and the module names it may sign.
type Publisher struct {
	Name    string            // label for humans (optional)
	Key     ed25519.PublicKey // 32 bytes
	Modules []string          // name patterns, see ValidatePattern; at least one
}

// DefaultPolicy returns the policy used when a device has none: no key is
// trusted and unsigned packages are refused, so nothing installs until the
// operator trusts a publisher (or explicitly allows unsigned modules).
func DefaultPolicy() *Policy { return &Policy{} }

// ValidatePattern checks a module-name pattern of a trust policy:
//
//   - "vision", "example.com/shrink": exactly that name (see
//     manifest.ValidateName);
//   - "example.com/*": every name in the namespace example.com
//     ("example.com/shrink"), not example.com itself;
//   - "acme.*": every name below acme ("acme.cam", "acme.cam/driver"), not
//     acme itself;
//   - "*": every name (an explicit choice; never a default).
//
// '*' is allowed nowhere else, so a prefix always ends at a separator and
// "example.com/*" cannot match "example.com.evil/x".
func ValidatePattern(p string) error {
	if p == "*" {
		return nil
	}
	prefix, wild := strings.CutSuffix(p, "*")
	if wild {
		sep := ""
		if prefix != "" {
			sep = prefix[len(prefix)-1:]
		}
		base := strings.TrimSuffix(prefix, sep)
		if sep != "/" && sep != "." || strings.Contains(base, "/") || manifest.ValidateName(base) != nil {
			return fmt.Errorf("%w: module pattern %q: '*' may only follow \"NAME/\" or \"NAME.\" (e.g. \"example.com/*\", \"acme.*\") or stand alone", api.ErrInvalid, p)
		}
		return nil
	}
	if err := manifest.ValidateName(p); err != nil {
		return fmt.Errorf("%w: module pattern: %w", api.ErrInvalid, err)
	}
	return nil
}

// MatchName reports whether the module name matches a valid pattern (see
// ValidatePattern).
func MatchName(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return len(name) > len(prefix) && strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// Validate checks the policy: 32-byte keys, each listed once, with at least
// one valid module pattern and a printable label. Errors wrap api.ErrInvalid.
func (pol *Policy) Validate() error {
	if pol == nil {
		return nil
	}
	seen := map[string]int{}
	for i, pub := range pol.Publishers {
		where := fmt.Sprintf("publisher[%d]", i)
		if len(pub.Key) != ed25519.PublicKeySize {
			return fmt.Errorf("%s: %w: key of %d bytes, an ed25519 key has %d", where, api.ErrInvalid, len(pub.Key), ed25519.PublicKeySize)
		}
		id := KeyID(pub.Key)
		if j, dup := seen[string(pub.Key)]; dup {
			return fmt.Errorf("%s: %w: key %s is already listed as publisher[%d]; list its modules there", where, api.ErrInvalid, id, j)
		}
		seen[string(pub.Key)] = i
		if err := ValidateSigner(pub.Name); err != nil {
			return fmt.Errorf("%s: name: %w", where, err)
		}
		if len(pub.Modules) == 0 {
			return fmt.Errorf("%s: %w: key %s trusted for no modules (list patterns in modules)", where, api.ErrInvalid, id)
		}
		for _, m := range pub.Modules {
			if err := ValidatePattern(m); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

// Trust adds key, trusted for the given module patterns, to the policy, or
// adds the patterns to the key's entry when it is already listed (a non-empty
// name then relabels it).
func (pol *Policy) Trust(name string, key ed25519.PublicKey, modules ...string) error {
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("trust: %w: key of %d bytes, an ed25519 key has %d", api.ErrInvalid, len(key), ed25519.PublicKeySize)
	}
	if len(modules) == 0 {
		return fmt.Errorf("trust %s: %w: no module patterns", KeyID(key), api.ErrInvalid)
	}
	for _, m := range modules {
		if err := ValidatePattern(m); err != nil {
			return fmt.Errorf("trust %s: %w", KeyID(key), err)
		}
	}
	if err := ValidateSigner(name); err != nil {
		return fmt.Errorf("trust %s: %w", KeyID(key), err)
	}
	for i := range pol.Publishers {
		pub := &pol.Publishers[i]
		if bytes.Equal(pub.Key, key) {
			for _, m := range modules {
				if !slices.Contains(pub.Modules, m) {
					pub.Modules = append(pub.Modules, m)
				}
			}
			if name != "" {
				pub.Name = name
			}
			return nil
		}
	}
	pol.Publishers = append(pol.Publishers, Publisher{Name: name, Key: bytes.Clone(key), Modules: append([]string(nil), modules...)})
	return nil
}

// policyFile is trust.toml.
type policyFile struct {
	AllowUnsigned bool            `toml:"allow_unsigned"`
	Publisher     []publisherFile `toml:"publisher"`
}

type publisherFile struct {
	Name    string   `toml:"name,omitempty"`
	Key     string   `toml:"key"`
	KeyID   string   `toml:"key_id,omitempty"`
	Modules []string `toml:"modules"`
}

// ParsePolicy parses trust.toml; source names it in errors. Unknown keys,
// values of the wrong type, bad keys, key ids that do not match their key
// and bad patterns are errors wrapping api.ErrInvalid.
func ParsePolicy(data []byte, source string) (*Policy, error) {
	if source == "" {
		source = PolicyFile
	}
	var f policyFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", source, api.ErrInvalid, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: %w: unknown key %s (allowed: allow_unsigned, [[publisher]] name, key, key_id, modules)", source, api.ErrInvalid, strings.Join(keys, ", "))
	}
	p := &Policy{AllowUnsigned: f.AllowUnsigned}
	for i, pf := range f.Publisher {
		if pf.Key == "" {
			return nil, fmt.Errorf("%s: publisher[%d]: %w: key is required (\"ed25519:BASE64\", printed by orbital keygen)", source, i, api.ErrInvalid)
		}
		if !strings.HasPrefix(pf.Key, PublicKeyPrefix) {
			return nil, fmt.Errorf("%s: publisher[%d]: %w: key must start with %q", source, i, api.ErrInvalid, PublicKeyPrefix)
		}
		key, err := ParsePublicKey([]byte(pf.Key))
		if err != nil {
			return nil, fmt.Errorf("%s: publisher[%d]: %w", source, i, err)
		}
		if pf.KeyID != "" && pf.KeyID != KeyID(key) {
			return nil, fmt.Errorf("%s: publisher[%d]: %w: key_id %q does not match the key (its id is %s)", source, i, api.ErrInvalid, pf.KeyID, KeyID(key))
		}
		p.Publishers = append(p.Publishers, Publisher{Name: pf.Name, Key: key, Modules: pf.Modules})
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return p, nil
}

// LoadPolicy reads a trust policy file. A missing file is an error wrapping
// fs.ErrNotExist: callers that want DefaultPolicy in that case say so. A
// file that others may write (any group or other write bit, except on
// Windows) is refused: whoever can write it decides what the device runs.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("trust policy %s: %w: mode %04o lets others change it; run chmod go-w %s", path, api.ErrInvalid, st.Mode().Perm(), path)
	}
	data, err := readAll(f, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	return ParsePolicy(data, path)
}

// Marshal returns the policy as trust.toml.
func (pol *Policy) Marshal() ([]byte, error) {
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	var f policyFile
	if pol != nil {
		f.AllowUnsigned = pol.AllowUnsigned
		for _, pub := range pol.Publishers {
			f.Publisher = append(f.Publisher, publisherFile{Name: pub.Name, Key: FormatPublicKey(pub.Key), KeyID: KeyID(pub.Key), Modules: pub.Modules})
		}
	}
	var b bytes.Buffer
	b.WriteString("# Orbital trust policy: which publisher keys may sign which modules.\n")
	b.WriteString("# Packages are verified against it before they are installed or run.\n\n")
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	return b.Bytes(), nil
}

// Save writes the policy to path atomically (mode 0644), creating its
// directory (mode 0700) when needed.
func (pol *Policy) Save(path string) error {
	data, err := pol.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("trust policy: %w", err)
	}
	if err := WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("trust policy: %w", err)
	}
	return nil
}

// Status is the outcome of checking one signature against a policy.
type Status string

// Signature statuses.
const (
	StatusTrusted   Status = "trusted"                   // valid, by a key trusted for the module's name
	StatusWrongName Status = "not trusted for this name" // valid, by a trusted key, but not for this name
	StatusUntrusted Status = "untrusted key"             // valid, by a key the policy does not list
	StatusInvalid   Status = "does not match"            // does not verify against the digest: tampered
	StatusMalformed Status = "malformed"                 // the section does not decode
)

// Check is the outcome for one signature section.
type Check struct {
	Signature Signature
	Status    Status
	Publisher string // the policy's label for the key, when it lists it
	Pattern   string // StatusTrusted: the pattern that admitted the name
}

// Verdict is what Policy.Verify decided, and why.
type Verdict struct {
	Module   string  // name@version from the manifest
	Name     string  // the module name the signatures were checked for
	Digest   Digest  // recomputed from the package's bytes
	Checks   []Check // one per signature section, in file order
	Accepted bool
	// Unsigned is set when the package was accepted without a trusted
	// signature, because the policy allows unsigned packages.
	Unsigned bool
	// By is the check that admitted a signed package (the first trusted
	// signature); nil otherwise.
	By *Check
	// Reason says why, in one line: "signed by KEYID (NAME), trusted for
	// PATTERN", "unsigned (allowed by policy)", or the refusal.
	Reason string
}

// String returns the Reason.
func (v Verdict) String() string { return v.Reason }

// Verify decides whether the policy accepts the package. It re-reads the
// package from its bytes (never trusting p.Digest, p.Manifest or
// p.Signatures), recomputes the digest and checks every signature:
//
//   - any malformed signature section, or any signature that does not
//     verify against the digest, refuses the package, whatever else it
//     carries;
//   - otherwise it is accepted if a signature is by a key trusted for the
//     manifest's name;
//   - otherwise it is accepted only when AllowUnsigned is set (Verdict says
//     "unsigned (allowed by policy)").
//
// A refusal returns the Verdict (with every check) and an error wrapping
// api.ErrPermissionDenied and one of ErrMalformedSignature, ErrTampered,
// ErrNameNotTrusted, ErrUntrustedKey or ErrUnsigned. A package that does
// not open returns an error wrapping api.ErrBadModule or api.ErrBadManifest.
// A nil policy trusts nothing.
func (pol *Policy) Verify(p *Package) (Verdict, error) {
	if p == nil {
		return Verdict{}, fmt.Errorf("verify: %w: no package", api.ErrInvalid)
	}
	if err := pol.Validate(); err != nil {
		return Verdict{}, fmt.Errorf("verify: trust policy: %w", err)
	}
	source := ManifestSection
	if p.Manifest != nil && p.Manifest.Source != "" {
		source = p.Manifest.Source
	}
	q, err := open(p.data, source)
	if err != nil {
		return Verdict{}, fmt.Errorf("verify: %w", err)
	}
	if pol == nil {
		pol = DefaultPolicy()
	}
	v := Verdict{Module: q.Manifest.String(), Name: q.Manifest.Name, Digest: q.Digest}
	refuse := func(class error, format string, args ...any) (Verdict, error) {
		v.Reason = "refused: " + class.Error() + ": " + fmt.Sprintf(format, args...)
		return v, fmt.Errorf("verify %s: %w: %w: %s", v.Module, api.ErrPermissionDenied, class, fmt.Sprintf(format, args...))
	}
	for _, s := range q.Signatures {
		c := Check{Signature: s}
		switch {
		case s.Err != nil:
			c.Status = StatusMalformed
		case !s.Valid(q.Digest):
			c.Status = StatusInvalid
		default:
			c.Status = StatusUntrusted
			for _, pub := range pol.Publishers {
				if !bytes.Equal(pub.Key, s.PublicKey) {
					continue
				}
				c.Publisher = pub.Name
				c.Status = StatusWrongName
				for _, pat := range pub.Modules {
					if MatchName(pat, q.Manifest.Name) {
						c.Status, c.Pattern = StatusTrusted, pat
						break
					}
				}
			}
		}
		v.Checks = append(v.Checks, c)
	}
	var wrongName, untrusted []string
	for i := range v.Checks {
		c := &v.Checks[i]
		switch c.Status {
		case StatusMalformed:
			return refuse(ErrMalformedSignature, "signature section %d: %s", i+1, strings.TrimPrefix(c.Signature.Err.Error(), ErrMalformedSignature.Error()+": "))
		case StatusInvalid:
			return refuse(ErrTampered, "signature %d by key %s does not verify against digest %s: the code or manifest was changed after it was signed", i+1, c.Signature.Label(), q.Digest)
		case StatusTrusted:
			if v.By == nil {
				v.By = c
			}
		case StatusWrongName:
			wrongName = append(wrongName, fmt.Sprintf("key %s is trusted for %s only", c.Signature.Label(), strings.Join(patternsOf(pol, c.Signature.PublicKey), ", ")))
		case StatusUntrusted:
			untrusted = append(untrusted, c.Signature.Label())
		}
	}
	if v.By != nil {
		v.Accepted = true
		v.Reason = fmt.Sprintf("signed by %s, trusted for %s", v.By.Signature.Label(), v.By.Pattern)
		if v.By.Publisher != "" && v.By.Publisher != v.By.Signature.Signer {
			v.Reason = fmt.Sprintf("signed by %s, trusted as %q for %s", v.By.Signature.Label(), v.By.Publisher, v.By.Pattern)
		}
		return v, nil
	}
	if pol.AllowUnsigned {
		v.Accepted, v.Unsigned = true, true
		v.Reason = "unsigned (allowed by policy)"
		if len(v.Checks) > 0 {
			v.Reason = "no trusted signature; accepted as unsigned (allowed by policy)"
		}
		return v, nil
	}
	switch {
	case len(v.Checks) == 0:
		return refuse(ErrUnsigned, "no signature, and the trust policy does not allow unsigned modules (sign it with orbital sign)")
	case len(wrongName) > 0:
		return refuse(ErrNameNotTrusted, "module name %q: %s", q.Manifest.Name, strings.Join(wrongName, "; "))
	default:
		sort.Strings(untrusted)
		return refuse(ErrUntrustedKey, "valid signature by key %s, which the trust policy does not list", strings.Join(untrusted, ", "))
	}
}

// patternsOf returns the patterns the policy trusts key for.
func patternsOf(pol *Policy, key ed25519.PublicKey) []string {
	var out []string
	for _, pub := range pol.Publishers {
		if bytes.Equal(pub.Key, key) {
			out = append(out, pub.Modules...)
		}
	}
	return out
}
