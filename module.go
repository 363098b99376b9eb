package orbital

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/engine"
	"github.com/orbitalfoundation/orbital/internal/manifest"
)

// Module is a compiled module with its manifest. It is immutable and may
// be spawned (or provided, for a library) any number of times.
type Module struct {
	name     string
	em       *engine.Module
	manifest *Manifest
}

// Name is the manifest name, or the file name when there is no manifest.
func (m *Module) Name() string { return m.name }

// Label is name@version when there is a manifest, else the name.
func (m *Module) Label() string {
	if m.manifest != nil {
		return m.manifest.String()
	}
	return m.name
}

// Manifest returns the module's manifest, or nil.
func (m *Module) Manifest() *Manifest { return m.manifest }

// IsLibrary reports whether the module is a library (provided to callers,
// not run).
func (m *Module) IsLibrary() bool {
	return m.manifest != nil && m.manifest.m.Kind == manifest.KindLibrary
}

// Info describes the module's imports, exports, memories and custom sections.
func (m *Module) Info() api.WasmInfo { return m.em.Info() }

// CompileTime is how long compiling took (near zero when cached).
func (m *Module) CompileTime() time.Duration { return m.em.CompileTime() }

// LoadOptions tune Load and LoadFile.
type LoadOptions struct {
	// Manifest is the module's manifest, already parsed (LoadFile: instead
	// of the one found beside the file). Nil: found, or read from the
	// module's "orbital.manifest" section.
	Manifest *Manifest
	// Progress is told of the compilation as it happens: "compiling" when
	// it starts, then "compiled", "cached" or "failed" (api.CompileEvent);
	// bytes compiled before by this kernel report one "loaded".
	Progress func(api.CompileEvent)
}

// Load compiles wasm (once per distinct binary) and pairs it with its
// manifest m; with a nil m the manifest is read from the module's
// "orbital.manifest" custom section, if it has one. Errors wrap
// api.ErrBadModule or api.ErrBadManifest.
func (k *Kernel) Load(ctx context.Context, name string, wasm []byte, m *Manifest) (*Module, error) {
	return k.LoadWith(ctx, name, wasm, LoadOptions{Manifest: m})
}

// LoadWith is Load with options.
func (k *Kernel) LoadWith(ctx context.Context, name string, wasm []byte, opts LoadOptions) (*Module, error) {
	m := opts.Manifest
	if m != nil {
		name = m.Name()
	}
	em, err := k.eng.Compile(ctx, wasm, engine.CompileOptions{Name: name, Trusted: k.cfg.trusted[name], Progress: opts.Progress})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if m == nil {
		if data, ok := em.CustomSection(ManifestSection); ok {
			if m, err = ParseManifest(data, name+".wasm#"+ManifestSection); err != nil {
				return nil, fmt.Errorf("load %s: %w", name, err)
			}
			name = m.Name()
		}
	}
	if m != nil {
		if err := checkEntry(em, m.m); err != nil {
			return nil, fmt.Errorf("load %s: %w", name, err)
		}
	}
	return &Module{name: name, em: em, manifest: m}, nil
}

// LoadFile reads a wasm file and finds its manifest: NAME.orbital.toml
// beside NAME.wasm, else orbital.toml in the same directory (see
// FindManifest), else the module's embedded one.
func (k *Kernel) LoadFile(ctx context.Context, path string) (*Module, error) {
	return k.LoadFileWith(ctx, path, LoadOptions{})
}

// LoadFileWith is LoadFile with options.
func (k *Kernel) LoadFileWith(ctx context.Context, path string, opts LoadOptions) (*Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if opts.Manifest == nil {
		if mpath, ok := FindManifest(path); ok {
			if opts.Manifest, err = LoadManifest(mpath); err != nil {
				return nil, fmt.Errorf("load %s: %w", path, err)
			}
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return k.LoadWith(ctx, name, wasm, opts)
}

// checkEntry verifies that the exports the manifest promises exist.
func checkEntry(em *engine.Module, m *manifest.Manifest) error {
	want := []string{m.Entry.Start}
	if m.Entry.Type == manifest.EntryReactor {
		want = append([]string{}, m.Entry.Exports...)
		if m.Entry.Init != "" {
			want = append(want, m.Entry.Init)
		}
	}
	for _, fn := range want {
		if fn != "" && !em.HasExport(fn) {
			return fmt.Errorf("%w: manifest %s names export %q which the module does not have", api.ErrBadManifest, m.Source, fn)
		}
	}
	return nil
}
