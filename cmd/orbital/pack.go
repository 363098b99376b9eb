package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/install"
	"github.com/orbitalfoundation/orbital/internal/manifest"
	"github.com/orbitalfoundation/orbital/internal/pack"
)

const packUsage = `Usage: orbital pack [flags] DIR|MODULE.wasm

Makes a package: one wasm file carrying its manifest in the custom section
"orbital.manifest", so any wasm tool still runs it. DIR holds orbital.toml
and one .wasm module; for MODULE.wasm the manifest is --manifest,
NAME.orbital.toml or orbital.toml beside it, or the one it already embeds.
Signatures of a re-packed package are removed (sign it again).

Prints the package's digest: sha256 over the file without its signature
sections, which is what signatures sign (orbital sign).

Flags:
`

func cmdPack(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("pack", packUsage, stderr)
	out := fs.String("o", "", "output file (default NAME-VERSION.orbital.wasm in the current directory)")
	manifestPath := fs.String("manifest", "", "manifest file (default: found beside the module, or embedded)")
	replace := fs.Bool("replace", false, "replace a different manifest the module already embeds")
	pos, code := fs.parse(args, stdout)
	if code >= 0 {
		return code
	}
	var err error
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital pack: expected exactly one DIR or MODULE.wasm")
		return exitUsage
	}
	opts := pack.Options{Replace: *replace}
	st, err := os.Stat(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "orbital pack: %v\n", err)
		return exitUsage
	}
	var data []byte
	var m *manifest.Manifest
	if st.IsDir() {
		if *manifestPath != "" {
			fmt.Fprintln(stderr, "orbital pack: --manifest applies to a MODULE.wasm; a DIR has its orbital.toml")
			return exitUsage
		}
		data, m, err = pack.PackDir(pos[0], opts)
	} else {
		data, m, err = pack.PackFile(pos[0], *manifestPath, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "orbital pack: %v\n", err)
		return packCode(err)
	}
	path := *out
	if path == "" {
		path = pack.FileName(m)
	}
	if err := pack.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "orbital pack: %v\n", err)
		return exitFailure
	}
	p, err := pack.Open(data)
	if err != nil { // PackFile's output always opens
		fmt.Fprintf(stderr, "orbital pack: %v\n", err)
		return exitFailure
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "package\t%s\n", path)
	fmt.Fprintf(w, "module\t%s (%s)\n", m, m.Kind)
	fmt.Fprintf(w, "digest\t%s\n", p.Digest)
	fmt.Fprintf(w, "size\t%d bytes (module %d, manifest %d)\n", p.Size, p.WasmSize, p.Size-p.WasmSize)
	w.Flush()
	return exitOK
}

const keygenUsage = `Usage: orbital keygen [-o NAME] [--force]

Makes a publisher key for signing packages: NAME.key, the ed25519 private
key (PKCS #8 PEM, mode 0600; keep it secret), and NAME.pub, its public key
(PKIX PEM; share it). Prints the key id (the first 16 hex digits of the
sha256 of the public key) and the entry that trusts the key in a device's
trust.toml. Signatures carry NAME as the signer's name.

Flags:
`

func cmdKeygen(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", keygenUsage, stderr)
	out := fs.String("o", "orbital", "base path of the key files: NAME.key and NAME.pub")
	force := fs.Bool("force", false, "overwrite existing key files")
	pos, code := fs.parse(args, stdout)
	if code >= 0 {
		return code
	}
	var err error
	if len(pos) != 0 || *out == "" {
		fmt.Fprintln(stderr, "orbital keygen: takes no arguments (name the files with -o NAME)")
		return exitUsage
	}
	name := filepath.Base(*out)
	if pack.ValidateSigner(name) != nil {
		name = ""
	}
	k, err := pack.GenerateKey(name)
	if err != nil {
		fmt.Fprintf(stderr, "orbital keygen: %v\n", err)
		return exitFailure
	}
	keyPath, pubPath, err := pack.WriteKeyPair(k, *out, *force)
	if err != nil {
		fmt.Fprintf(stderr, "orbital keygen: %v\n", err)
		if errors.Is(err, api.ErrExists) {
			return exitUsage
		}
		return exitFailure
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "key id\t%s\n", k.ID())
	fmt.Fprintf(w, "private\t%s (keep it secret)\n", keyPath)
	fmt.Fprintf(w, "public\t%s\n", pubPath)
	w.Flush()
	fmt.Fprintf(stdout, "\nTo trust this key on a device, add to its %s:\n\n", pack.PolicyFile)
	fmt.Fprintf(stdout, "[[publisher]]\n")
	if name != "" {
		fmt.Fprintf(stdout, "name = %q\n", name)
	}
	fmt.Fprintf(stdout, "key = %q\nkey_id = %q\nmodules = [\"example.com/*\"]   # the module names this key may sign\n", pack.FormatPublicKey(k.Public()), k.ID())
	return exitOK
}

const signUsage = `Usage: orbital sign --key NAME.key [-o OUT] PACKAGE

Adds an ed25519 signature by a publisher key to a package made by orbital
pack, in place unless -o is given. The signature covers the package digest,
which signing does not change: several publishers can sign the same package,
and signing again with the same key replaces its signature. A package
changed after it was signed is refused: re-pack it.

Flags:
`

func cmdSign(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("sign", signUsage, stderr)
	keyPath := fs.String("key", "", "private key file made by orbital keygen (required)")
	out := fs.String("o", "", "output file (default: sign the package in place)")
	signer := fs.String("name", "", "signer name recorded in the signature (default: the key file's base name)")
	pos, code := fs.parse(args, stdout)
	if code >= 0 {
		return code
	}
	var err error
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital sign: expected exactly one PACKAGE")
		return exitUsage
	}
	if *keyPath == "" {
		fmt.Fprintln(stderr, "orbital sign: --key NAME.key is required")
		return exitUsage
	}
	key, err := pack.LoadPrivateKey(*keyPath)
	if err != nil {
		fmt.Fprintf(stderr, "orbital sign: %v\n", err)
		return packCode(err)
	}
	if *signer != "" {
		key.Name = *signer
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "orbital sign: %v\n", err)
		return packCode(err)
	}
	signed, err := pack.Sign(data, key)
	if err != nil {
		fmt.Fprintf(stderr, "orbital sign: %s: %v\n", pos[0], err)
		return packCode(err)
	}
	path := *out
	if path == "" {
		path = pos[0]
	}
	if err := pack.WriteFile(path, signed, 0o644); err != nil {
		fmt.Fprintf(stderr, "orbital sign: %v\n", err)
		return exitFailure
	}
	p, err := pack.Open(signed)
	if err != nil { // Sign's output always opens
		fmt.Fprintf(stderr, "orbital sign: %v\n", err)
		return exitFailure
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "package\t%s\n", path)
	fmt.Fprintf(w, "module\t%s\n", p.Manifest)
	fmt.Fprintf(w, "digest\t%s\n", p.Digest)
	fmt.Fprintf(w, "signed by\t%s\n", pack.Signature{KeyID: key.ID(), Signer: key.Name}.Label())
	fmt.Fprintf(w, "signatures\t%d\n", len(p.Signatures))
	w.Flush()
	return exitOK
}

const verifyUsage = `Usage: orbital verify [--trust FILE | --pub KEY.pub... --for PATTERN...] PACKAGE

Checks a package's signatures against a trust policy, as a device does
before installing or running it: the digest is recomputed from the file,
every signature must match it, and one must be by a key trusted for the
module's name (unless the policy allows unsigned modules).

The policy is --trust FILE, else the keys given with --pub, each trusted
for the --for patterns ("vision", "example.com/*", "acme.*", or "*" for
any name), else $ORBITAL_HOME/trust.toml; with none of these no key is
trusted.

Exit code: 0 accepted, 77 refused (unsigned, tampered, untrusted key, key not
trusted for the name, malformed signature), 65 not a valid package.

Flags:
`

func cmdVerify(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("verify", verifyUsage, stderr)
	trustPath := fs.String("trust", "", "trust policy file (default $ORBITAL_HOME/"+pack.PolicyFile+")")
	home := fs.String("home", "", "data directory holding "+pack.PolicyFile+" (default $ORBITAL_HOME or ~/.orbital)")
	var pubs, patterns multiFlag
	fs.Var(&pubs, "pub", "trust this public key file instead of a policy file (repeatable)")
	fs.Var(&patterns, "for", "module-name pattern the --pub keys are trusted for (repeatable; required with --pub)")
	pos, code := fs.parse(args, stdout)
	if code >= 0 {
		return code
	}
	var err error
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "orbital verify: expected exactly one PACKAGE")
		return exitUsage
	}
	var pol *pack.Policy
	switch {
	case len(pubs) > 0 && *trustPath != "":
		fmt.Fprintln(stderr, "orbital verify: give --trust FILE or --pub KEY.pub --for PATTERN, not both")
		return exitUsage
	case len(pubs) == 0 && len(patterns) > 0:
		fmt.Fprintln(stderr, "orbital verify: --for names what the --pub keys may sign; give --pub too")
		return exitUsage
	case len(pubs) > 0:
		if len(patterns) == 0 {
			fmt.Fprintln(stderr, "orbital verify: --pub needs --for PATTERN: the module names the key may sign (\"*\" for any)")
			return exitUsage
		}
		pol = pack.DefaultPolicy()
		for _, p := range pubs {
			key, err := pack.LoadPublicKey(p)
			if err == nil {
				err = pol.Trust("", key, patterns...)
			}
			if err != nil {
				fmt.Fprintf(stderr, "orbital verify: %v\n", err)
				return packCode(err)
			}
		}
	default:
		path := *trustPath
		if path == "" {
			h := *home
			if h == "" {
				h = orbital.DefaultHome()
			}
			path = filepath.Join(h, pack.PolicyFile)
		}
		pol, err = pack.LoadPolicy(path)
		if errors.Is(err, os.ErrNotExist) && *trustPath == "" {
			fmt.Fprintf(stderr, "orbital verify: no trust policy at %s: trusting no key\n", path)
			pol, err = pack.DefaultPolicy(), nil
		}
		if err != nil {
			fmt.Fprintf(stderr, "orbital verify: %v\n", err)
			return packCode(err)
		}
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "orbital verify: %v\n", err)
		return packCode(err)
	}
	p, err := install.PolicyGate(pol).Inspect(data)
	if err != nil {
		fmt.Fprintf(stderr, "orbital verify: %s: %v\n", pos[0], err)
		return packCode(err)
	}
	v, verr := p.Verdict.Verdict, p.Verdict.Err
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "module\t%s (%s)\n", p.Manifest, p.Manifest.Kind)
	fmt.Fprintf(w, "digest\t%s\n", v.Digest)
	if len(v.Checks) == 0 {
		fmt.Fprintf(w, "signatures\tnone\n")
	}
	for _, c := range v.Checks {
		status := string(c.Status)
		switch {
		case c.Status == pack.StatusTrusted:
			status = "valid, trusted for " + c.Pattern
		case c.Status == pack.StatusMalformed:
			status = c.Signature.Err.Error()
		case c.Status != pack.StatusInvalid:
			status = "valid, " + status
		}
		label := c.Signature.Label()
		if label == "" {
			label = "?"
		}
		fmt.Fprintf(w, "signature\t%s: %s\n", label, status)
	}
	fmt.Fprintf(w, "verdict\t%s\n", verdictLine(v))
	w.Flush()
	if verr != nil {
		fmt.Fprintf(stderr, "orbital verify: %v\n", verr)
		return exitNoPerm
	}
	return exitOK
}

func verdictLine(v pack.Verdict) string {
	if v.Accepted {
		return "accepted: " + v.Reason
	}
	return v.Reason
}

// packCode maps an error of the package commands to an exit code: like
// codeFor, and malformed keys, policies and arguments are bad input.
func packCode(err error) int {
	switch {
	case errors.Is(err, api.ErrInvalid), errors.Is(err, api.ErrTooLarge):
		return exitBadInput
	case errors.Is(err, api.ErrExists):
		return exitUsage
	}
	return codeFor(err)
}
