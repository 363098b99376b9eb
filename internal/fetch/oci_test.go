package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	oras "oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/pack"
	"github.com/orbitalfoundation/orbital/internal/testwasm"
)

// ociRegistry is a real OCI distribution registry (go-containerregistry's)
// served in-process over plain HTTP, with hooks to count and damage blob
// downloads.
type ociRegistry struct {
	host      string // host:port
	blobGets  atomic.Int64
	mu        sync.Mutex
	damage    func([]byte) []byte // applied to blob GET bodies when set
	stallBlob bool                // blob GETs send headers, then nothing
	password  string              // when set, every request needs basic auth as user "u"
}

func newRegistry(t *testing.T) *ociRegistry {
	t.Helper()
	reg := &ociRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		password := reg.password
		reg.mu.Unlock()
		if u, p, ok := r.BasicAuth(); password != "" && (!ok || u != "u" || p != password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			h.ServeHTTP(w, r)
			return
		}
		reg.blobGets.Add(1)
		reg.mu.Lock()
		damage, stall := reg.damage, reg.stallBlob
		reg.mu.Unlock()
		switch {
		case stall:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			until(r)
		case damage != nil:
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := damage(rec.Body.Bytes())
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(body)
		default:
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	reg.host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

func (reg *ociRegistry) set(damage func([]byte) []byte, stall bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.damage, reg.stallBlob = damage, stall
}

// ociOpts are options for the in-process registry.
func ociOpts() Options { return Options{PlainHTTP: true, Logger: quiet} }

// helloPackage packs build/wasm/hello.wasm with its manifest.
func helloPackage(t *testing.T) ([]byte, *pack.Package) {
	t.Helper()
	wasmPath := testwasm.Path(t, "hello")
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	toml, err := os.ReadFile(pack.FindManifest(wasmPath))
	if err != nil {
		t.Fatal(err)
	}
	pkg, _, err := pack.Pack(wasm, toml)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pack.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return pkg, p
}

func TestPushPull(t *testing.T) {
	reg := newRegistry(t)
	pkg, p := helloPackage(t)
	ctx := context.Background()

	ref := "oci://" + reg.host + "/orbital/hello:1.0.0"
	d, err := Push(ctx, ref, pkg, ociOpts())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("manifest digest %q", d)
	}

	for _, ref := range []string{
		ref,
		"oci://" + reg.host + "/orbital/hello@" + d,
		"oci://" + reg.host + "/orbital/hello:1.0.0@" + d,
	} {
		t.Run(ref, func(t *testing.T) {
			res, err := Fetch(ctx, ref, Options{PlainHTTP: true, Logger: quiet, ExpectDigest: sum(pkg)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Data, pkg) || res.Digest != sum(pkg) || res.ManifestDigest != d ||
				res.MediaType != WasmMediaType || res.Source != ref {
				t.Errorf("got %d bytes %s, manifest %s, media type %s, source %s; want %d bytes %s, manifest %s",
					len(res.Data), res.Digest, res.ManifestDigest, res.MediaType, res.Source, len(pkg), sum(pkg), d)
			}
			got, err := pack.Open(res.Data)
			if err != nil || got.Digest != p.Digest || got.Manifest.String() != "hello@1.0.0" {
				t.Errorf("pulled package: %v, %v", got, err)
			}
		})
	}

	// The artifact follows the convention: look at it with oras directly.
	repo, err := remote.NewRepository(reg.host + "/orbital/hello")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	_, raw, err := oras.FetchBytes(ctx, repo, "1.0.0", oras.DefaultFetchBytesOptions)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != ArtifactType ||
		m.Config.MediaType != ManifestMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != WasmMediaType ||
		m.Layers[0].Annotations[ocispec.AnnotationTitle] != "hello-1.0.0.orbital.wasm" ||
		m.Layers[0].Annotations[ocispec.AnnotationVersion] != "1.0.0" ||
		m.Annotations[ocispec.AnnotationCreated] == "" {
		t.Errorf("manifest %s", raw)
	}
	config, err := content.FetchAll(ctx, repo, m.Config)
	if err != nil || !bytes.Equal(config, p.ManifestTOML) {
		t.Errorf("config blob %q (%v), want the manifest TOML", config, err)
	}

	// Without a tag, Push tags the version.
	d2, err := Push(ctx, "oci://"+reg.host+"/orbital/hello2", pkg, ociOpts())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(ctx, "oci://"+reg.host+"/orbital/hello2:1.0.0", ociOpts())
	if err != nil || res.ManifestDigest != d2 || !bytes.Equal(res.Data, pkg) {
		t.Errorf("pull of the version tag: %v", err)
	}
}

func TestPullRefused(t *testing.T) {
	reg := newRegistry(t)
	pkg, _ := helloPackage(t)
	ctx := context.Background()
	base := "oci://" + reg.host + "/orbital/hello"
	if _, err := Push(ctx, base+":1", pkg, ociOpts()); err != nil {
		t.Fatal(err)
	}

	// Artifacts that are not Orbital modules, pushed with oras directly.
	repo, err := remote.NewRepository(reg.host + "/other/thing")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	blob := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		if err := repo.Push(ctx, d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	wasm := blob(WasmMediaType, pkg)
	other := blob("application/octet-stream", []byte("not wasm"))
	artifact := func(tag, artifactType string, layers ...ocispec.Descriptor) {
		d, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Layers: layers})
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Tag(ctx, d, tag); err != nil {
			t.Fatal(err)
		}
	}
	artifact("other-type", "application/vnd.example.thing.v1", wasm)
	artifact("two-layers", ArtifactType, wasm, other)
	artifact("not-wasm", ArtifactType, other)
	// An image index is not a module either.
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
	idxDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, idx)
	if err := repo.PushReference(ctx, idxDesc, bytes.NewReader(idx), "index"); err != nil {
		t.Fatal(err)
	}
	thing := "oci://" + reg.host + "/other/thing"

	for _, c := range []struct {
		name    string
		ref     string
		opts    func(*Options)
		damage  func([]byte) []byte
		stall   bool
		wantErr error
		msg     string
		noBlob  bool // refused before downloading the layer
	}{
		{name: "other artifact type", ref: thing + ":other-type", wantErr: api.ErrInvalid, msg: `not an Orbital module: artifactType "application/vnd.example.thing.v1"`, noBlob: true},
		{name: "two layers", ref: thing + ":two-layers", wantErr: api.ErrInvalid, msg: "exactly one layer", noBlob: true},
		{name: "layer not wasm", ref: thing + ":not-wasm", wantErr: api.ErrInvalid, msg: `layer media type "application/octet-stream"`, noBlob: true},
		{name: "image index", ref: thing + ":index", wantErr: api.ErrInvalid, noBlob: true},
		{name: "layer over the limit", ref: base + ":1", opts: func(o *Options) { o.MaxSize = int64(len(pkg)) - 1 }, wantErr: api.ErrTooLarge, msg: "the limit is", noBlob: true},
		{name: "unknown tag", ref: base + ":2", wantErr: api.ErrNotFound, noBlob: true},
		{name: "unknown repository", ref: "oci://" + reg.host + "/nobody/here:1", wantErr: api.ErrNotFound, noBlob: true},
		{name: "unknown digest", ref: base + "@sha256:" + sum(nil), wantErr: api.ErrNotFound, noBlob: true},
		{name: "no tag", ref: base, wantErr: api.ErrInvalid, msg: "name a tag or a digest", noBlob: true},
		{name: "https to a plain registry", ref: base + ":1", opts: func(o *Options) { o.PlainHTTP = false }, wantErr: api.ErrFailed, noBlob: true},
		{name: "tampered layer", ref: base + ":1", damage: func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, wantErr: api.ErrInvalid, msg: "mismatched digest"},
		{name: "truncated layer", ref: base + ":1", damage: func(b []byte) []byte { return b[:len(b)-1] }, wantErr: api.ErrInvalid},
		{name: "extended layer", ref: base + ":1", damage: func(b []byte) []byte { return append(b, 0) }, wantErr: api.ErrInvalid},
		{name: "stalled layer", ref: base + ":1", stall: true, opts: func(o *Options) { o.IdleTimeout = 200 * time.Millisecond }, wantErr: api.ErrTimeout, msg: "idle timeout"},
		{name: "expected digest", ref: base + ":1", opts: func(o *Options) { o.ExpectDigest = sum(nil) }, wantErr: api.ErrInvalid, msg: "digest mismatch"},
	} {
		// Not parallel: damage and stall apply to the whole registry.
		t.Run(c.name, func(t *testing.T) {
			reg.set(c.damage, c.stall)
			defer reg.set(nil, false)
			opts := ociOpts()
			if c.opts != nil {
				c.opts(&opts)
			}
			before := reg.blobGets.Load()
			res, err := Fetch(ctx, c.ref, opts)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, err = %v, want %v", res != nil, err, c.wantErr)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.ref) {
				t.Errorf("err = %q, want it to name the ref and say %q", err, c.msg)
			}
			if c.noBlob && reg.blobGets.Load() != before {
				t.Errorf("the layer was downloaded before the refusal")
			}
		})
	}
}

func TestPushRefused(t *testing.T) {
	reg := newRegistry(t)
	pkg, _ := helloPackage(t)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		ref     string
		pkg     []byte
		max     int64
		wantErr error
	}{
		{name: "not OCI", ref: "https://example.com/x", pkg: pkg, wantErr: api.ErrInvalid},
		{name: "digest", ref: "oci://" + reg.host + "/a@sha256:" + sum(nil), pkg: pkg, wantErr: api.ErrInvalid},
		{name: "not a package", ref: "oci://" + reg.host + "/a:1", pkg: []byte("\x00asm\x01\x00\x00\x00"), wantErr: api.ErrBadManifest},
		{name: "not wasm", ref: "oci://" + reg.host + "/a:1", pkg: []byte("hello"), wantErr: api.ErrBadModule},
		{name: "too large", ref: "oci://" + reg.host + "/a:1", pkg: pkg, max: 1000, wantErr: api.ErrTooLarge},
		{name: "bad reference", ref: "oci://" + reg.host + "/A:1", pkg: pkg, wantErr: api.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := ociOpts()
			opts.MaxSize = c.max
			if _, err := Push(ctx, c.ref, c.pkg, opts); !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	reg := newRegistry(t)
	reg.mu.Lock()
	reg.password = "secret"
	reg.mu.Unlock()
	pkg, _ := helloPackage(t)
	ctx := context.Background()
	ref := "oci://" + reg.host + "/private/hello:1"
	creds := func(pass string) func(context.Context, string) (string, string, error) {
		return func(_ context.Context, host string) (string, string, error) {
			if host != reg.host {
				t.Errorf("credentials asked for %q", host)
			}
			return "u", pass, nil
		}
	}
	for _, c := range []struct {
		name    string
		cred    func(context.Context, string) (string, string, error)
		wantErr error
	}{
		{name: "anonymous", wantErr: api.ErrPermissionDenied},
		{name: "wrong password", cred: creds("nope"), wantErr: api.ErrPermissionDenied},
		{name: "lookup fails", cred: func(context.Context, string) (string, string, error) { return "", "", io.ErrUnexpectedEOF }, wantErr: api.ErrPermissionDenied},
		{name: "right password", cred: creds("secret")},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := ociOpts()
			opts.Credential = c.cred
			_, err := Push(ctx, ref, pkg, opts)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("push: err = %v, want %v", err, c.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := Fetch(ctx, ref, opts)
			if err != nil || !bytes.Equal(res.Data, pkg) {
				t.Fatalf("pull: %v", err)
			}
		})
	}
}
