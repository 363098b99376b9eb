package engine

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"

	"github.com/orbitalfoundation/orbital/api"
)

// Module is a compiled wasm module. It is immutable and shared: any number
// of instances may be made from it.
type Module struct {
	e           *Engine
	rs          *runtimeSet
	cm          wazero.CompiledModule
	key         moduleKey
	trusted     bool
	compileTime time.Duration
	info        api.WasmInfo
	// The initial size of the memory the module defines (exported or not),
	// read from the binary: instantiation checks it against the limit.
	definedMinPages uint32
	definesMemory   bool
}

func newModule(e *Engine, rs *runtimeSet, cm wazero.CompiledModule, key moduleKey, trusted bool, took time.Duration) *Module {
	m := &Module{e: e, rs: rs, cm: cm, key: key, trusted: trusted, compileTime: took}
	m.info = api.WasmInfo{Digest: hex.EncodeToString(key.digest[:]), // empty lists, not JSON nulls
		Imports: []api.WasmFunc{}, Exports: []api.WasmFunc{}, Memories: []api.WasmMemory{}, Custom: []api.WasmSection{}, Implies: []string{}}
	implied := map[string]bool{}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		m.info.Imports = append(m.info.Imports, api.WasmFunc{Module: mod, Name: name, Params: valueTypes(f.ParamTypes()), Results: valueTypes(f.ResultTypes())})
		if c := impliedCapability(mod, name); c != "" {
			implied[c] = true
		}
	}
	for name, f := range cm.ExportedFunctions() {
		m.info.Exports = append(m.info.Exports, api.WasmFunc{Name: name, Params: valueTypes(f.ParamTypes()), Results: valueTypes(f.ResultTypes())})
	}
	sort.Slice(m.info.Exports, func(i, j int) bool { return m.info.Exports[i].Name < m.info.Exports[j].Name })
	for _, md := range cm.ImportedMemories() {
		mod, name, _ := md.Import()
		mx, has := md.Max()
		m.info.Memories = append(m.info.Memories, api.WasmMemory{Name: mod + "." + name, Imported: true, Min: md.Min(), Max: mx, HasMax: has})
	}
	for name, md := range cm.ExportedMemories() {
		mx, has := md.Max()
		m.info.Memories = append(m.info.Memories, api.WasmMemory{Name: name, Min: md.Min(), Max: mx, HasMax: has})
	}
	for _, s := range cm.CustomSections() {
		m.info.Custom = append(m.info.Custom, api.WasmSection{Name: s.Name(), Size: len(s.Data())})
	}
	for c := range implied {
		m.info.Implies = append(m.info.Implies, c)
	}
	sort.Strings(m.info.Implies)
	return m
}

// Info describes the module's imports, exports, memories and custom sections.
func (m *Module) Info() api.WasmInfo { return m.info }

// Digest is the hex sha256 of the module's bytes.
func (m *Module) Digest() string { return m.info.Digest }

// CompileTime is how long compilation took (near zero on a cache hit).
func (m *Module) CompileTime() time.Duration { return m.compileTime }

// Trusted reports whether the module was compiled without termination checks.
func (m *Module) Trusted() bool { return m.trusted }

// CustomSection returns the data of the first custom section named name.
func (m *Module) CustomSection(name string) ([]byte, bool) {
	for _, s := range m.cm.CustomSections() {
		if s.Name() == name {
			return s.Data(), true
		}
	}
	return nil, false
}

// HasExport reports whether the module exports a function named name.
func (m *Module) HasExport(name string) bool {
	_, ok := m.cm.ExportedFunctions()[name]
	return ok
}

// minMemoryPages is the initial size of the module's own memory, if any.
func (m *Module) minMemoryPages() (uint32, bool) {
	if m.definesMemory {
		return m.definedMinPages, true
	}
	for _, md := range m.cm.ExportedMemories() {
		return md.Min(), true
	}
	return 0, false
}

// Close releases the compiled code. Instances made from it must be closed first.
func (m *Module) Close(ctx context.Context) error {
	m.e.mu.Lock()
	delete(m.e.modules, m.key)
	m.e.mu.Unlock()
	if err := m.cm.Close(ctx); err != nil {
		return fmt.Errorf("close module %s: %w", m.info.Digest[:12], err)
	}
	return nil
}

func valueTypes(ts []wapi.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = wapi.ValueTypeName(t)
	}
	return out
}

// impliedCapability maps an import to the capability its use needs.
func impliedCapability(mod, name string) string {
	if mod == HostModuleName {
		switch name {
		case "log", "nop", "config":
			return ""
		case "sock_connect":
			return "network"
		}
		return "bus"
	}
	if mod != "wasi_snapshot_preview1" {
		return ""
	}
	switch {
	case strings.HasPrefix(name, "path_"), name == "fd_readdir", name == "fd_prestat_get", name == "fd_prestat_dir_name":
		return "fs"
	case strings.HasPrefix(name, "args_"):
		return "args"
	case strings.HasPrefix(name, "environ_"):
		return "env"
	case strings.HasPrefix(name, "clock_"), name == "poll_oneoff":
		return "clock"
	case name == "random_get":
		return "random"
	case strings.HasPrefix(name, "sock_"):
		return "network"
	}
	return ""
}
