// Package install is the one trust gate. Every package the device installs
// or runs — from a file, an https:// URL, an OCI registry, the admin
// panel's URL bar, a node config naming a signed package, or the registry
// when the node boots — passes through a Gate: it parses the package,
// verifies its signatures against the trust policy and says who signed it,
// who the policy says they are, and why it is refused when it is. Nothing
// else in Orbital decides trust.
//
// A package is opened and verified once per install: the Package the gate
// returns carries its verdict to the registry (which verifies nothing
// itself) and to the node that runs it. Only when the trust policy has
// changed since the verdict (Gate.Recheck), or when the node boots (a key
// may have been revoked since the install), is a package judged again.
package install

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/registry"
)

// PolicyPath is where the device's trust policy lives under home.
func PolicyPath(home string) string { return filepath.Join(home, pack.PolicyFile) }

// Gate judges packages against a trust policy.
type Gate struct {
	// policy returns the policy in force and a stamp that changes when it
	// does.
	policy func() (*pack.Policy, [sha256.Size]byte, error)
}

// NewGate returns the gate of the device whose data directory is home: its
// policy is home/trust.toml, read again at every judgement, so an edit
// counts at once. Without the file the policy trusts nothing and refuses
// unsigned packages.
func NewGate(home string) *Gate {
	path := PolicyPath(home)
	var (
		mu     sync.Mutex
		cached *pack.Policy
		at     [sha256.Size]byte
	)
	return &Gate{policy: func() (*pack.Policy, [sha256.Size]byte, error) {
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return pack.DefaultPolicy(), [sha256.Size]byte{}, nil
		}
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("trust policy: %w", err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("trust policy: %w", err)
		}
		// The stamp covers the content and the mode: a policy made
		// writable by others is refused at once, not at its next edit.
		stamp := sha256.Sum256(append(data, byte(st.Mode().Perm()>>6), byte(st.Mode().Perm())))
		mu.Lock()
		defer mu.Unlock()
		if cached != nil && stamp == at {
			return cached, stamp, nil // parsed once per version of the file
		}
		pol, err := pack.LoadPolicy(path) // checks the permissions too
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("trust policy: %w", err)
		}
		cached, at = pol, stamp
		return pol, stamp, nil
	}}
}

// PolicyGate returns a gate with a fixed policy (orbital verify --trust
// or --pub).
func PolicyGate(pol *pack.Policy) *Gate {
	return &Gate{policy: func() (*pack.Policy, [sha256.Size]byte, error) {
		return pol, [sha256.Size]byte{}, nil
	}}
}

// Check reads the policy and reports whether it is valid (the node checks
// it before it starts anything).
func (g *Gate) Check() error {
	_, _, err := g.policy()
	return err
}

// Package is a package the gate has opened and judged.
type Package struct {
	*pack.Package
	// Verdict is the gate's judgement under the policy in force when the
	// package was opened (or last rechecked).
	Verdict Verdict

	stamp [sha256.Size]byte // the policy the verdict was reached under
}

// Registry returns the package as the registry stores it.
func (p *Package) Registry() registry.Package {
	return registry.Package{Data: p.Bytes(), Manifest: p.Package.Manifest, Digest: p.Digest.Hex(), Verdict: p.Verdict.Reason}
}

// Verdict is the gate's judgement of a package.
type Verdict struct {
	pack.Verdict
	// Trusted is set when a key the policy trusts for the module's name
	// signed it (not when it is accepted as unsigned).
	Trusted bool
	// Publisher names who published it: the trust policy's name for the
	// accepting key, else the signer's own name, else "".
	Publisher string
	// Err is why the package is refused (wrapping api.ErrPermissionDenied
	// and the pack error class), nil when it is accepted.
	Err error
	// Advice is what the operator can do about a refusal, for humans ("" if
	// accepted or nothing to say).
	Advice string
}

// Refusal is the refusal with its advice in one line, or "" when accepted.
func (v Verdict) Refusal() string {
	if v.Err == nil {
		return ""
	}
	msg := v.Reason
	if msg == "" {
		msg = "refused: " + v.Err.Error()
	}
	if v.Advice != "" {
		msg += "; " + v.Advice
	}
	return msg
}

// Signature is the verdict as the control API shows it.
func (v Verdict) Signature(signed bool) api.SignatureVerdict {
	out := api.SignatureVerdict{Signed: signed, Trusted: v.Trusted, Verdict: v.Reason, Signers: []api.Signer{}}
	if v.Err != nil {
		out.Verdict = v.Refusal()
	}
	for _, c := range v.Checks {
		out.Signers = append(out.Signers, api.Signer{Signer: c.Signature.Signer, KeyID: c.Signature.KeyID,
			Status: string(c.Status), Publisher: c.Publisher})
	}
	return out
}

// Inspect opens data and judges it. The error is only for what is not a
// package at all (api.ErrBadModule, api.ErrBadManifest) or an unreadable
// policy; a refused package comes back with Verdict.Err set, so that it
// can be shown (the install prompt, orbital verify).
func (g *Gate) Inspect(data []byte) (*Package, error) {
	p, err := pack.Open(data)
	if err != nil {
		return nil, err
	}
	out := &Package{Package: p}
	return out, g.judge(out)
}

// Open opens data and judges it; a refused package is an error wrapping
// api.ErrPermissionDenied.
func (g *Gate) Open(data []byte) (*Package, error) {
	p, err := g.Inspect(data)
	if err != nil {
		return nil, err
	}
	if p.Verdict.Err != nil {
		return nil, p.Verdict.Err
	}
	return p, nil
}

// Recheck judges p again if the policy changed since it was judged (a key
// revoked or trusted between the install prompt and its approval), and
// returns the refusal, if any.
func (g *Gate) Recheck(p *Package) error {
	_, stamp, err := g.policy()
	if err != nil {
		return err
	}
	if stamp != p.stamp {
		if err := g.judge(p); err != nil {
			return err
		}
	}
	return p.Verdict.Err
}

// CheckLocal verifies a module file an operator named in a node config
// when it is a signed package: a tampered or untrusted signature refuses
// it. An unsigned file (or a plain wasm module) is the operator's own
// development module and passes; modules installed in the registry are
// always held to the policy by Open.
func (g *Gate) CheckLocal(data []byte) error {
	p, err := pack.Open(data)
	if err != nil || !p.Signed() {
		return nil // not a package, or unsigned: the loader reports bad modules itself
	}
	out := &Package{Package: p}
	if err := g.judge(out); err != nil {
		return err
	}
	return out.Verdict.Err
}

// judge sets p.Verdict under the policy in force.
func (g *Gate) judge(p *Package) error {
	pol, stamp, err := g.policy()
	if err != nil {
		return err
	}
	pv, err := pol.Verify(p.Package)
	if err != nil && !errors.Is(err, api.ErrPermissionDenied) {
		return err // not a judgement: the package or the policy is broken
	}
	v := Verdict{Verdict: pv, Err: err, Trusted: err == nil && pv.By != nil}
	// The trust policy's name for a key it lists beats the name a signer
	// gave itself.
	switch {
	case pv.By != nil && pv.By.Publisher != "":
		v.Publisher = pv.By.Publisher
	case pv.By != nil:
		v.Publisher = pv.By.Signature.Signer
	default:
		for _, c := range pv.Checks {
			if c.Publisher != "" {
				v.Publisher = c.Publisher
				break
			}
		}
		if v.Publisher == "" && len(pv.Checks) > 0 {
			v.Publisher = pv.Checks[0].Signature.Signer
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, pack.ErrUnsigned):
		v.Advice = "this device installs packages signed by the publishers in its trust.toml"
	case errors.Is(err, pack.ErrUntrustedKey), errors.Is(err, pack.ErrNameNotTrusted):
		v.Advice = "to trust this publisher, add its key to trust.toml"
	}
	p.Verdict, p.stamp = v, stamp
	return nil
}
