package api

import (
	"encoding/json"
	"time"
)

// WasmInfo is what a compiled module declares: its interface to the world
// (`orbital inspect`).
type WasmInfo struct {
	Digest   string        `json:"digest"`
	Imports  []WasmFunc    `json:"imports"`
	Exports  []WasmFunc    `json:"exports"`
	Memories []WasmMemory  `json:"memories"`
	Custom   []WasmSection `json:"custom_sections"`
	// Implies lists the capabilities the imports suggest the module will ask
	// for at run time (e.g. "fs", "clock"), sorted.
	Implies []string `json:"implies"`
}

// WasmFunc describes an imported or exported function.
type WasmFunc struct {
	Module  string   `json:"module,omitempty"` // import module; empty for exports
	Name    string   `json:"name"`
	Params  []string `json:"params"`
	Results []string `json:"results"`
}

// WasmMemory describes a declared memory in 64 KiB pages.
type WasmMemory struct {
	Name     string `json:"name,omitempty"`
	Imported bool   `json:"imported,omitempty"`
	Min      uint32 `json:"min_pages"`
	Max      uint32 `json:"max_pages,omitempty"`
	HasMax   bool   `json:"has_max"`
}

// WasmSection is a custom section's name and size.
type WasmSection struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// Trigger kinds: what starts a module (see the manifest's [triggers]).
const (
	TriggerBoot     = "boot"      // started when the node boots
	TriggerSubject  = "subject"   // a message on a bus subject (Value: pattern)
	TriggerRoute    = "route"     // an HTTP route served by the node (Value: route)
	TriggerSchedule = "schedule"  // a cron schedule (Value: cron expression)
	TriggerOnDemand = "on-demand" // a library's first call
)

// Trigger is one declaration of what starts a module.
type Trigger struct {
	Kind  string `json:"kind"`            // Trigger* constants
	Value string `json:"value,omitempty"` // subject pattern, route or schedule
}

// ResolvedDependency is one of a module's [dependencies] as resolved at
// install.
type ResolvedDependency struct {
	Name      string   `json:"name"`                // the library
	Range     string   `json:"range"`               // version range as written
	Functions []string `json:"functions,omitempty"` // functions called; empty: any
	Optional  bool     `json:"optional,omitempty"`
	// Resolved is the version chosen at install time; empty for an
	// optional dependency that was left out.
	Resolved string `json:"resolved,omitempty"`
}

// ModuleRecord is one installed name@version in a device's registry.
type ModuleRecord struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Kind        string `json:"kind"` // app, library, driver or service
	Description string `json:"description,omitempty"`
	// Digest is the module digest (hex sha256 of the package without its
	// signature sections): the module's identity, what signatures sign.
	Digest string `json:"digest"`
	// Blob is the hex sha256 of the package bytes as stored: the blob's name.
	Blob         string               `json:"blob"`
	Size         int64                `json:"size"` // package bytes
	Installed    time.Time            `json:"installed"`
	Verdict      string               `json:"verdict"` // the trust gate's verdict on the signatures
	Pinned       bool                 `json:"pinned,omitempty"`
	Dependencies []ResolvedDependency `json:"dependencies,omitempty"`
	Triggers     []Trigger            `json:"triggers,omitempty"`
}

// Ref returns "name@version".
func (r ModuleRecord) Ref() string { return r.Name + "@" + r.Version }

// ModuleSummary describes an installed name: its kind and versions.
type ModuleSummary struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Versions []string `json:"versions"` // ascending by semantic version precedence
	Latest   string   `json:"latest"`
	Pinned   string   `json:"pinned,omitempty"`
}

// ModuleDetail is an installed module as GET /api/v1/modules/NAME shows
// it: its record, its manifest, the other versions of its name, who
// depends on it, and what it asks for with whether it is granted.
type ModuleDetail struct {
	ModuleRecord
	Manifest     json.RawMessage     `json:"manifest"`
	Versions     []string            `json:"versions"`
	Dependents   []Dependent         `json:"dependents"`
	Capabilities []CapabilityRequest `json:"capabilities"`
}

// ExportRef is a library function found by a "who exports" query.
type ExportRef struct {
	Module   string `json:"module"` // name@version
	Name     string `json:"name"`
	Version  string `json:"version"`
	Function string `json:"function"`
	Args     string `json:"args"`   // shape of the arguments
	Result   string `json:"result"` // shape of the result
}

// Firing is a module that a subject (or another trigger) starts or reaches.
type Firing struct {
	Module  string `json:"module"` // name@version
	Name    string `json:"name"`
	Version string `json:"version"`
	Pattern string `json:"pattern"` // the declared pattern or trigger value
	// Via says where the declaration comes from. From a "fires" query:
	// "listen" or "subscribe" ([bus]) or "trigger" (a subject trigger).
	// From a "triggers" query: the trigger kind.
	Via string `json:"via"`
}

// Dependent is a module whose [dependencies] name a library.
type Dependent struct {
	Module    string   `json:"module"` // name@version of the dependent
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Library   string   `json:"library"`
	Range     string   `json:"range"`
	Functions []string `json:"functions,omitempty"`
	Optional  bool     `json:"optional,omitempty"`
	// Satisfied is the highest installed version of the library in Range
	// (ignoring the rest of the dependent's closure); empty if none.
	Satisfied string `json:"satisfied,omitempty"`
}

// CapabilityHolder is a module that requests a capability, found by a
// "may" query.
type CapabilityHolder struct {
	Module     string `json:"module"` // name@version
	Name       string `json:"name"`
	Version    string `json:"version"`
	Capability string `json:"capability"` // as indexed, e.g. "fs:/data", "calls:vision", "clock"
	Detail     string `json:"detail,omitempty"`
}

// Query kinds of GET /api/v1/query/KIND?q=ARG and `orbital query`.
const (
	QueryExports    = "exports"    // who exports function ARG → []ExportRef
	QueryFires      = "fires"      // what a message on subject ARG starts or reaches → []Firing
	QueryTriggers   = "triggers"   // modules with trigger kind ARG → []Firing
	QueryDependents = "dependents" // what depends on library ARG → []Dependent
	QueryMay        = "may"        // which modules may touch capability ARG → []CapabilityHolder
)

// Compile stages, in the order a CompileEvent reports them.
const (
	CompileStarted = "compiling" // compilation began (Cached: machine code is expected from the disk cache)
	CompileDone    = "compiled"  // compiled to machine code now
	CompileCached  = "cached"    // machine code came from the disk cache
	CompileLoaded  = "loaded"    // the same bytes were already compiled in this kernel
	CompileFailed  = "failed"    // the binary was refused (Error says why)
)

// CompileEvent reports one step of a module's compilation, for progress
// lines on a terminal and the node's boot report: a "compiling" event when
// it starts, then one of "compiled", "cached" or "failed"; a module
// compiled before in the same kernel reports a single "loaded".
type CompileEvent struct {
	Module string `json:"module"`
	Size   int    `json:"size"` // bytes of wasm
	Stage  string `json:"stage"`
	// Cached, on a "compiling" event, says that this kernel compiled the
	// same bytes before and its machine code is expected from the disk cache.
	Cached  bool          `json:"cached,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns,omitempty"` // at the end: how long it took
	Error   string        `json:"error,omitempty"`
}
