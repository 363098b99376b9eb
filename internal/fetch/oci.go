package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oras "oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/pack"
)

// Media types of an Orbital module stored in an OCI registry.
const (
	// ArtifactType is the artifactType of the image manifest of a module.
	ArtifactType = "application/vnd.orbital.module.v1"
	// ManifestMediaType is the media type of the config blob: the module's
	// manifest TOML, byte for byte as embedded in the package.
	ManifestMediaType = "application/vnd.orbital.manifest.v1+toml"
	// WasmMediaType is the media type of the one layer: the package, a wasm
	// binary. Other tools that store wasm in OCI registries use it too.
	WasmMediaType = "application/wasm"
)

// MaxManifestSize bounds the OCI manifest of a module (a few hundred bytes
// in practice).
const MaxManifestSize = 1 << 20

// repository returns the oras client for r's repository, using the HTTP
// client of this retrieval.
func repository(r Ref, opts Options, w *watchdog) (*remote.Repository, func()) {
	hc, done := opts.client(w, opts.PlainHTTP || opts.AllowHTTP)
	ac := &auth.Client{Client: hc, Cache: auth.NewCache()}
	if cred := opts.Credential; cred != nil {
		ac.Credential = func(ctx context.Context, host string) (auth.Credential, error) {
			u, p, err := cred(ctx, host)
			if err != nil {
				return auth.EmptyCredential, fmt.Errorf("%w: credentials for %s: %w", api.ErrPermissionDenied, host, err)
			}
			return auth.Credential{Username: u, Password: p}, nil
		}
	}
	return &remote.Repository{
		Client:             ac,
		Reference:          r.reference(),
		PlainHTTP:          opts.PlainHTTP,
		ManifestMediaTypes: []string{ocispec.MediaTypeImageManifest},
		MaxMetadataBytes:   MaxManifestSize,
	}, done
}

// pull fetches the package layer of the module artifact r names.
func pull(parent context.Context, r Ref, opts Options) (*Result, error) {
	if r.Tag == "" && r.Digest == "" {
		return nil, fmt.Errorf("%w: name a tag or a digest (oci://%s/%s:TAG or @sha256:…)", api.ErrInvalid, r.Registry, r.Repository)
	}
	ctx, w := withTimeouts(parent, opts.Timeout, opts.IdleTimeout)
	defer w.stop()
	repo, done := repository(r, opts, w)
	defer done()

	mdesc, layer, err := resolveModule(ctx, repo, r)
	if err != nil {
		return nil, err
	}
	switch {
	case layer.Size < 0:
		return nil, fmt.Errorf("%w: layer %s has a negative size", api.ErrInvalid, layer.Digest)
	case layer.Size > opts.MaxSize:
		return nil, tooLarge(layer.Size, opts.MaxSize)
	}
	rc, err := repo.Blobs().Fetch(ctx, layer)
	if err != nil {
		return nil, classify(ctx, fmt.Errorf("layer %s: %w", layer.Digest, err))
	}
	defer rc.Close()
	// VerifyReader stops at the descriptor's size and, in Verify, checks
	// there is nothing after it and that the digest matches.
	vr := content.NewVerifyReader(rc, layer)
	data, sum, err := readCapped(vr, opts.MaxSize, layer.Size)
	if err == nil {
		err = vr.Verify()
	}
	if err == nil {
		err = ctx.Err() // see fetchHTTP: a cancelled body may end cleanly
	}
	if err != nil {
		return nil, classify(ctx, fmt.Errorf("layer %s: %w", layer.Digest, err))
	}
	return &Result{Data: data, Digest: sum, MediaType: layer.MediaType, ManifestDigest: mdesc.Digest.String()}, nil
}

// resolveModule fetches and checks the manifest r names, and returns its
// descriptor and that of its one wasm layer.
func resolveModule(ctx context.Context, repo *remote.Repository, r Ref) (mdesc, layer ocispec.Descriptor, err error) {
	ref := repo.Reference.Reference
	mdesc, rc, err := repo.FetchReference(ctx, ref)
	if err != nil {
		return mdesc, layer, classify(ctx, err)
	}
	defer rc.Close()
	switch {
	case mdesc.MediaType != ocispec.MediaTypeImageManifest:
		return mdesc, layer, fmt.Errorf("%w: %s is a %q, not an OCI image manifest (%s)", api.ErrInvalid, ref, mdesc.MediaType, ocispec.MediaTypeImageManifest)
	case mdesc.Size > MaxManifestSize:
		return mdesc, layer, fmt.Errorf("%w: manifest of %d bytes, the limit is %d", api.ErrTooLarge, mdesc.Size, MaxManifestSize)
	}
	// ReadAll verifies the bytes against the descriptor: the digest of a
	// pull by digest is the one asked for.
	raw, err := content.ReadAll(rc, mdesc)
	if err != nil {
		return mdesc, layer, classify(ctx, fmt.Errorf("manifest %s: %w", mdesc.Digest, err))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return mdesc, layer, fmt.Errorf("%w: manifest %s: %w", api.ErrInvalid, mdesc.Digest, err)
	}
	if err := checkModule(&m); err != nil {
		return mdesc, layer, fmt.Errorf("%s@%s: %w", r.Repository, mdesc.Digest, err)
	}
	return mdesc, m.Layers[0], nil
}

// checkModule checks that m is the manifest of an Orbital module.
func checkModule(m *ocispec.Manifest) error {
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType // the convention before image-spec v1.1
	}
	switch {
	case m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest:
		return fmt.Errorf("%w: manifest mediaType %q, want %s", api.ErrInvalid, m.MediaType, ocispec.MediaTypeImageManifest)
	case at != ArtifactType && at != ManifestMediaType:
		return fmt.Errorf("%w: not an Orbital module: artifactType %q, want %s", api.ErrInvalid, at, ArtifactType)
	case len(m.Layers) != 1:
		return fmt.Errorf("%w: an Orbital module has exactly one layer, this artifact has %d", api.ErrInvalid, len(m.Layers))
	case m.Layers[0].MediaType != WasmMediaType:
		return fmt.Errorf("%w: layer media type %q, want %s", api.ErrInvalid, m.Layers[0].MediaType, WasmMediaType)
	}
	return nil
}

// Push publishes the package pkg (an "orbital pack" artifact) to the OCI
// reference ref (oci://host/repo[:tag]) as an Orbital module: the manifest
// TOML embedded in pkg as the config blob, pkg as the one layer, the image
// manifest tagged with the tag of ref, or, without one, with the package's
// version ("+" in a version becomes "_", which tags cannot contain). It
// returns the digest of the pushed manifest ("sha256:…"), with which
// oci://host/repo@DIGEST pulls exactly these bytes. Blobs the registry
// already has are not uploaded again. opts.MaxSize, Timeout, IdleTimeout,
// HTTPClient, TLSConfig, PlainHTTP and Credential apply. Errors wrap an api
// class as Fetch's do (a package pack.Open refuses keeps its class).
func Push(ctx context.Context, ref string, pkg []byte, opts Options) (string, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	opts = opts.withDefaults()
	switch {
	case r.Scheme != SchemeOCI:
		return "", fmt.Errorf("push %s: %w: push needs an OCI reference oci://host/repository[:tag]", r, api.ErrInvalid)
	case r.Digest != "":
		return "", fmt.Errorf("push %s: %w: a digest is the result of a push; name a tag (or none: the version)", r, api.ErrInvalid)
	case int64(len(pkg)) > opts.MaxSize:
		return "", fmt.Errorf("push %s: %w", r, tooLarge(int64(len(pkg)), opts.MaxSize))
	}
	p, err := pack.Open(pkg)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	version := "0.0.0"
	if p.Manifest.Version != nil {
		version = p.Manifest.Version.String()
	}
	if r.Tag == "" {
		r.Tag = strings.ReplaceAll(version, "+", "_")
	}
	start := time.Now()
	d, err := push(ctx, r, p, version, opts)
	if err != nil {
		opts.Logger.Debug("push failed", "ref", r.String(), "err", err)
		return "", fmt.Errorf("push %s (%s): %w", r, p.Manifest, err)
	}
	opts.Logger.Debug("pushed", "ref", r.String(), "module", p.Manifest.String(), "manifest", d, "elapsed", time.Since(start))
	return d, nil
}

// push assembles the artifact in memory and copies it to the registry.
func push(parent context.Context, r Ref, p *pack.Package, version string, opts Options) (string, error) {
	ctx, w := withTimeouts(parent, opts.Timeout, opts.IdleTimeout)
	defer w.stop()
	repo, done := repository(r, opts, w)
	defer done()

	store := memory.New()
	config := content.NewDescriptorFromBytes(ManifestMediaType, p.ManifestTOML)
	layer := content.NewDescriptorFromBytes(WasmMediaType, p.Bytes())
	layer.Annotations = map[string]string{
		ocispec.AnnotationTitle:   pack.FileName(p.Manifest),
		ocispec.AnnotationVersion: version,
	}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{config, p.ManifestTOML}, {layer, p.Bytes()}} {
		if err := store.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			return "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
	}
	annotations := map[string]string{
		ocispec.AnnotationTitle:   p.Manifest.Name,
		ocispec.AnnotationVersion: version,
	}
	if p.Manifest.Description != "" {
		annotations[ocispec.AnnotationDescription] = p.Manifest.Description
	}
	mdesc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		ConfigDescriptor:    &config,
		Layers:              []ocispec.Descriptor{layer},
		ManifestAnnotations: annotations,
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if err := store.Tag(ctx, mdesc, r.Tag); err != nil {
		return "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if _, err := oras.Copy(ctx, store, r.Tag, repo, r.Tag, oras.CopyOptions{}); err != nil {
		return "", classify(ctx, err)
	}
	return mdesc.Digest.String(), nil
}
