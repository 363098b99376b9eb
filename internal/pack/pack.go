// Package pack reads, writes, signs and verifies Orbital packages.
//
// A package is one wasm binary that carries its manifest and, once signed,
// its signatures, all in custom sections, so any wasm tool still runs it:
//
//   - custom section "orbital.manifest" (exactly one): the manifest TOML,
//     byte for byte (see package manifest);
//   - custom section "orbital.signature" (zero or more, one per signer): a
//     signature record, see Signature.
//
// The package digest is sha256 over the binary with every
// "orbital.signature" section removed: the 8-byte header and every other
// section (code, data, the manifest, other custom sections) byte for byte
// and in order. Signing therefore does not change the digest, and changing
// the code or the manifest does. Each signature is an ed25519 signature by a
// publisher key over
//
//	"orbital package signature v1\x00" || digest (32 bytes) || signer name
//
// (the prefix keeps a publisher key's signatures from meaning anything in
// another protocol; the signer name is authenticated with the digest).
//
// A Policy decides which signatures a device accepts: trusted publisher keys,
// each for a set of module-name patterns, and whether unsigned packages are
// allowed for local development. DefaultPolicy trusts no key and refuses
// unsigned packages; Policy.Verify always recomputes the digest from the
// bytes.
package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Custom section names used by packages.
const (
	ManifestSection  = "orbital.manifest"  // the manifest TOML; exactly one per package
	SignatureSection = "orbital.signature" // one signature record per signer
)

// MaxSignatures is the most signature sections a package may carry; more is
// a malformed package (it bounds the work a verifier does).
const MaxSignatures = 32

// Suffix is the file-name suffix of packages written by the CLI:
// NAME-VERSION.orbital.wasm.
const Suffix = ".orbital.wasm"

// Digest is the sha256 of a package without its signature sections.
type Digest [sha256.Size]byte

// String returns "sha256:" and the digest in lowercase hex.
func (d Digest) String() string { return "sha256:" + hex.EncodeToString(d[:]) }

// Hex returns the digest in lowercase hex.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// Package is an opened package: its manifest, digest and signatures.
type Package struct {
	// Manifest is the parsed embedded manifest.
	Manifest *manifest.Manifest
	// ManifestTOML is the embedded manifest, byte for byte.
	ManifestTOML []byte
	// Digest is the package digest computed by Open. Policy.Verify
	// recomputes it from the bytes and never trusts this field.
	Digest Digest
	// Signatures are the signature sections in file order. A section that
	// does not decode is kept with Err set, so that tools can show it;
	// Policy.Verify refuses a package that has one.
	Signatures []Signature
	// Size is the length of the package in bytes.
	Size int
	// WasmSize is the length of the module alone: the package without its
	// manifest and signature sections.
	WasmSize int

	data []byte
}

// Bytes returns the package's bytes: the slice given to Open, not a copy.
func (p *Package) Bytes() []byte { return p.data }

// Signed reports whether the package carries at least one signature section.
func (p *Package) Signed() bool { return len(p.Signatures) > 0 }

// Open parses a package strictly: the wasm header, every top-level section
// size, exactly one "orbital.manifest" section holding a valid manifest, and
// at most MaxSignatures "orbital.signature" sections. A signature section
// that does not decode does not fail Open (see Package.Signatures). Open
// keeps data (it does not copy it): do not modify it afterwards. Errors wrap
// api.ErrBadModule or api.ErrBadManifest; no input makes it panic.
func Open(data []byte) (*Package, error) {
	return open(data, ManifestSection)
}

// OpenFile reads and opens the package at path; manifest errors name path.
func OpenFile(path string) (*Package, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	p, err := open(data, path+"#"+ManifestSection)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// open is Open with the manifest's source name for error messages.
func open(data []byte, source string) (*Package, error) {
	secs, err := walk(data)
	if err != nil {
		return nil, err
	}
	p := &Package{Size: len(data), WasmSize: headerLen, data: data}
	manifests := 0
	for _, s := range secs {
		switch {
		case isManifest(s):
			manifests++
			p.ManifestTOML = s.payload
		case isSignature(s):
			if len(p.Signatures) == MaxSignatures {
				return nil, fmt.Errorf("%w: more than %d %s sections", api.ErrBadModule, MaxSignatures, SignatureSection)
			}
			p.Signatures = append(p.Signatures, decodeSignature(s.payload))
		default:
			p.WasmSize += s.end - s.start
		}
	}
	switch {
	case manifests == 0:
		return nil, fmt.Errorf("%w: not a package: the module has no %s section (run orbital pack)", api.ErrBadManifest, ManifestSection)
	case manifests > 1:
		// Tools that read the first and tools that read the last would
		// disagree on what the module is: refuse the ambiguity.
		return nil, fmt.Errorf("%w: %d %s sections, a package has exactly one", api.ErrBadModule, manifests, ManifestSection)
	}
	if p.Manifest, err = manifest.Parse(p.ManifestTOML, source); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrBadManifest, err)
	}
	p.Digest = digestOf(data, secs)
	return p, nil
}

// Options change what PackWith, PackFile and PackDir do.
type Options struct {
	// Replace lets the manifest given replace a different one already
	// embedded in the module. Without it such a module is refused, so that
	// packing never silently changes what a module declares.
	Replace bool
	// Source names the manifest in error messages (default "orbital.toml").
	Source string
}

// Pack is PackWith without options: a module that already embeds a
// different manifest is refused.
func Pack(wasm, manifestTOML []byte) ([]byte, *manifest.Manifest, error) {
	return PackWith(wasm, manifestTOML, Options{})
}

// PackWith makes a package of a wasm module and its manifest. It checks the
// module's header and section structure, parses and validates the manifest,
// removes any signature sections (they would not match the new digest) and
// any embedded manifest, and appends the manifest as an "orbital.manifest"
// custom section. If the module already embeds a manifest that differs from
// manifestTOML by even one byte, it is refused unless o.Replace is set.
// Packing the same module and manifest again, or re-packing a package with
// its own manifest, gives the same bytes and digest. wasm is not modified.
// Errors wrap api.ErrBadModule or api.ErrBadManifest.
func PackWith(wasm, manifestTOML []byte, o Options) ([]byte, *manifest.Manifest, error) {
	secs, err := walk(wasm)
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	m, err := manifest.Parse(manifestTOML, o.Source)
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w: %w", api.ErrBadManifest, err)
	}
	for _, s := range secs {
		if isManifest(s) && !o.Replace && string(s.payload) != string(manifestTOML) {
			old := "a different manifest"
			if om, err := manifest.Parse(s.payload, ManifestSection); err == nil {
				old = "the manifest of " + om.String()
			}
			return nil, nil, fmt.Errorf("pack %s: %w: the module already embeds %s; replace it explicitly (orbital pack --replace)", m, api.ErrBadManifest, old)
		}
	}
	out := without(wasm, secs, func(s section) bool { return isManifest(s) || isSignature(s) })
	out = append(out, customSection(ManifestSection, manifestTOML)...)
	return out, m, nil
}

// PackFile packs the module at wasmPath with the manifest at manifestPath.
// An empty manifestPath means NAME.orbital.toml beside NAME.wasm, else
// orbital.toml in the same directory, else the manifest the module already
// embeds (re-packing a package: its signatures are removed).
func PackFile(wasmPath, manifestPath string, o Options) ([]byte, *manifest.Manifest, error) {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	if manifestPath == "" {
		manifestPath = FindManifest(wasmPath)
	}
	var toml []byte
	if manifestPath != "" {
		if toml, err = os.ReadFile(manifestPath); err != nil {
			return nil, nil, fmt.Errorf("pack: %w", err)
		}
		if o.Source == "" {
			o.Source = manifestPath
		}
	} else {
		secs, err := walk(wasm)
		if err != nil {
			return nil, nil, fmt.Errorf("pack %s: %w", wasmPath, err)
		}
		for _, s := range secs {
			if isManifest(s) {
				toml = s.payload
			}
		}
		if toml == nil {
			base := strings.TrimSuffix(filepath.Base(wasmPath), filepath.Ext(wasmPath))
			return nil, nil, fmt.Errorf("pack %s: %w: no manifest: expected %s.orbital.toml or orbital.toml beside it, or an embedded one (or pass the manifest file)", wasmPath, api.ErrBadManifest, base)
		}
		if o.Source == "" {
			o.Source = wasmPath + "#" + ManifestSection
		}
	}
	out, m, err := PackWith(wasm, toml, o)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", wasmPath, err)
	}
	return out, m, nil
}

// PackDir packs a module directory: dir must hold orbital.toml and exactly
// one .wasm file other than packages (*.orbital.wasm).
func PackDir(dir string, o Options) ([]byte, *manifest.Manifest, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	var mods []string
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".wasm") && !strings.HasSuffix(n, Suffix) {
			mods = append(mods, n)
		}
	}
	sort.Strings(mods)
	switch len(mods) {
	case 0:
		return nil, nil, fmt.Errorf("pack %s: %w: no .wasm module in the directory (build it first)", dir, api.ErrNotFound)
	case 1:
	default:
		return nil, nil, fmt.Errorf("pack %s: %w: %d .wasm modules (%s); pack one of them by file name", dir, api.ErrInvalid, len(mods), strings.Join(mods, ", "))
	}
	mpath := filepath.Join(dir, "orbital.toml")
	if _, err := os.Stat(mpath); err != nil {
		return nil, nil, fmt.Errorf("pack %s: %w: no orbital.toml: %w", dir, api.ErrBadManifest, err)
	}
	return PackFile(filepath.Join(dir, mods[0]), mpath, o)
}

// FindManifest returns the manifest file beside a module: NAME.orbital.toml
// for NAME.wasm, else orbital.toml in the same directory, else "".
func FindManifest(wasmPath string) string {
	dir := filepath.Dir(wasmPath)
	base := strings.TrimSuffix(filepath.Base(wasmPath), filepath.Ext(wasmPath))
	for _, p := range []string{filepath.Join(dir, base+".orbital.toml"), filepath.Join(dir, "orbital.toml")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// FileName returns the conventional file name of m's package,
// NAME-VERSION.orbital.wasm, with the '/' of a namespaced name replaced by
// '_' ("example.com/shrink" 1.0.0 → example.com_shrink-1.0.0.orbital.wasm).
func FileName(m *manifest.Manifest) string {
	v := "0.0.0"
	if m.Version != nil {
		v = m.Version.String()
	}
	return strings.ReplaceAll(m.Name, "/", "_") + "-" + v + Suffix
}
