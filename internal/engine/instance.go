package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	wapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/capability"
	ofs "github.com/orbitalfoundation/orbital/internal/fs"
	"github.com/orbitalfoundation/orbital/internal/raster"
	"github.com/orbitalfoundation/orbital/internal/wasi"
)

// IOMount is the guest directory where host-opened streams bound as files appear.
const IOMount = "/io"

// Spec is everything needed to make one instance: its name, its resolved
// capabilities and the host ends of its streams.
type Spec struct {
	// Name is argv[0] and the label in logs.
	Name string
	// Caps is the effective capability set (already resolved against the
	// manifest and the grants).
	Caps capability.Set
	// Stdin, Stdout and Stderr are used only if the matching capability is
	// set; otherwise the guest reads EOF and its writes are discarded.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Files are host-opened handles the guest sees under /io (host
	// metacompute: the guest needs no file-system capability for them).
	Files []ofs.Handle
	// Logger receives the guest's orbital_v1.log lines; nil discards them.
	Logger *slog.Logger
	// Port connects the instance to the message bus; nil means every
	// orbital_v1 messaging call is denied.
	Port Port
	// Linker resolves the instance's calls to libraries; nil means every
	// call_bind is denied.
	Linker Linker
	// Worker, if set, makes the instance a library worker: its entry runs
	// a serve loop on call_serve (see Worker).
	Worker *Worker
	// Config is the module's configuration (a JSON object) that the guest
	// reads with orbital_v1.config; nil means none.
	Config []byte
}

// Instance is one running copy of a Module with its own memory, file
// descriptors and capability set. Calls into one Instance must not overlap;
// Kill and the stat getters may be called from any goroutine.
type Instance struct {
	m      *Module
	mod    wapi.Module
	mem    *memory
	quota  *ofs.Quota
	mounts []io.Closer
	logger *slog.Logger
	port   Port
	worker *Worker   // non-nil for a library worker
	config []byte    // JSON, for orbital_v1.config
	frame  Frame     // this instance on a call chain (Parent: the call being served)
	cs     callState // the caller side of calls; touched only by the calling goroutine

	ctx    context.Context // carries the instance for host functions; cancelled by Kill
	cancel context.CancelCauseFunc

	fns       map[string]wapi.Function // export cache; touched only by the calling goroutine
	wasi      *wasi.State              // the guest's system interface: descriptors, clocks, sockets
	surfaces  *raster.Set              // the guest's surfaces; nil without a display grant
	listeners []string                 // addresses the host listens on for the guest
	deadline  time.Duration
	killOnce  sync.Once
	cause     atomic.Pointer[error] // why the instance was killed, if it was

	// The deadline watchdog: one reusable timer per instance, armed per call.
	// due is the monotonic time the current call must end by (0: none), so a
	// late firing from an earlier call never kills a later one.
	timer   *time.Timer
	due     atomic.Int64
	timerAt atomic.Int64 // workers: when the lazy watchdog fires (0: idle)
	tmu     sync.Mutex   // workers: serializes watchdog re-arming
	holding bool         // holds an execution slot; touched only by the calling goroutine
	entered int64        // nanotime when the slot was taken
	cpu     atomic.Int64
	calls   atomic.Uint64
}

type instanceKey struct{}

// fromContext returns the instance a host function is running for.
func fromContext(ctx context.Context) *Instance {
	if c, ok := ctx.(*instanceCtx); ok { // host functions of calls made with i.ctx: no Value walk
		return c.i
	}
	i, _ := ctx.Value(instanceKey{}).(*Instance)
	return i
}

// instanceCtx is an instance's context: cancelled by Kill, and carrying the
// instance for host functions.
type instanceCtx struct {
	context.Context
	i *Instance
}

func (c *instanceCtx) Value(key any) any {
	if _, ok := key.(instanceKey); ok {
		return c.i
	}
	return c.Context.Value(key)
}

// ErrKilled is the cause recorded when Kill is called without a reason.
var ErrKilled = errors.New("killed")

// ErrDeadline is the cause recorded when a call runs past its deadline.
var ErrDeadline = fmt.Errorf("deadline exceeded: %w", api.ErrLimit)

// Instantiate makes a new instance of m confined to spec.Caps. Nothing of
// the guest runs yet except a wasm start section; command modules run with
// Run and reactors are driven with Call.
func (e *Engine) Instantiate(ctx context.Context, m *Module, spec Spec) (inst *Instance, err error) {
	caps := spec.Caps
	limitPages := caps.Limits.MemoryPages
	if limitPages == 0 || limitPages > e.cfg.MaxMemoryPages {
		limitPages = e.cfg.MaxMemoryPages
	}
	if minPages, ok := m.minMemoryPages(); ok && minPages > limitPages {
		return nil, fmt.Errorf("instantiate %s: %w: memory needs %d pages at start, limit is %d",
			spec.Name, api.ErrLimit, minPages, limitPages)
	}
	i := &Instance{
		m:   m,
		mem: &memory{limit: uint64(limitPages) * 65536},
		// Each mount holds one descriptor for its preopened directory: the
		// guest's own quota comes on top of those.
		quota:    ofs.NewQuota(openFileQuota(caps.Limits.OpenFiles, len(caps.Dirs), len(spec.Files))),
		deadline: caps.Limits.Deadline,
		logger:   spec.Logger,
		port:     spec.Port,
		worker:   spec.Worker,
		config:   spec.Config,
		frame:    Frame{Name: spec.Name},
		cs:       callState{linker: spec.Linker},
	}
	if d := caps.Display; !d.Zero() {
		i.surfaces = raster.NewSet(raster.Limits{MaxWidth: d.Width, MaxHeight: d.Height}, i.mem)
	}
	if w := spec.Worker; w != nil {
		w.inst = i
		i.frame = Frame{Name: w.library, Library: true}
	}
	if i.logger == nil {
		i.logger = slog.New(slog.DiscardHandler)
	}
	cctx, cancel := context.WithCancelCause(context.Background())
	i.ctx, i.cancel = &instanceCtx{Context: cctx, i: i}, cancel
	defer func() {
		if err != nil {
			i.closeMounts()
			i.cancel(err)
		}
	}()

	// The system interface is Orbital's own (package wasi): wazero runs
	// the code, the State below is everything the guest sees of the host.
	// wazero's own system context is not the guest's (internal/wasi is),
	// but without a random source it seeds a math/rand generator for
	// every instance: ~10 % of a spawn. It gets a reader that is never read.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(unusedRand{})
	if err := i.systemInterface(spec); err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", spec.Name, err)
	}

	ictx := experimental.WithMemoryAllocator(i.ctx, experimental.MemoryAllocatorFunc(func(_, _ uint64) experimental.LinearMemory { return i.mem }))
	if i.deadline > 0 {
		var cancel context.CancelFunc
		ictx, cancel = context.WithTimeout(ictx, i.deadline)
		defer cancel()
	}
	mod, err := m.instantiate(ictx, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", spec.Name, i.classify(err).Err)
	}
	i.mod = mod
	return i, nil
}

func openFileQuota(guest, dirs, files int) int {
	if guest <= 0 {
		return 0 // unlimited
	}
	if files > 0 {
		dirs++
	}
	return guest + dirs
}

// instantiate runs wazero's instantiation, turning a panic inside it (a
// malformed module that got past validation) into an error: nothing a module
// does may take the kernel down.
func (m *Module) instantiate(ctx context.Context, cfg wazero.ModuleConfig) (mod wapi.Module, err error) {
	defer func() {
		if r := recover(); r != nil {
			mod, err = nil, fmt.Errorf("%w: instantiation failed: %v", api.ErrBadModule, r)
		}
	}()
	return m.rs.rt.InstantiateModule(ctx, m.cm, cfg)
}

func (i *Instance) addMount(f experimentalsys.FS) {
	if c, ok := f.(io.Closer); ok {
		i.mounts = append(i.mounts, c)
	}
}

func (i *Instance) closeMounts() {
	if i.wasi != nil {
		if i.wasi.Net != nil {
			i.wasi.Net.CloseAll()
		}
		i.wasi.Files.CloseAll()
	}
	for _, c := range i.mounts {
		_ = c.Close()
	}
	i.mounts = nil
}

// Exit is how a call into the guest ended.
type Exit struct {
	State  api.State // exited, crashed or killed; running if the call returned normally
	Code   uint32    // guest exit code (proc_exit), or 0
	Reason string    // for humans, empty when the call returned normally
	Err    error     // nil when the call returned normally or exited with code 0
}

// Run calls a command module's entry (usually "_start") to completion and
// reports how the guest ended. A guest that returns without proc_exit exits
// with code 0.
func (i *Instance) Run(ctx context.Context, entry string) Exit {
	_, err := i.call(ctx, entry)
	ex := i.classify(err)
	if ex.State == api.StateRunning { // returned normally from _start
		ex.State = api.StateExited
	}
	return ex
}

// Call invokes an exported function. It waits for an execution slot, runs
// the guest under the instance's deadline and returns the results. When the
// deadline passes, ctx ends or Kill is called, the guest is stopped and the
// instance becomes unusable; the error then wraps ErrDeadline or the kill
// cause.
func (i *Instance) Call(ctx context.Context, name string, params ...uint64) ([]uint64, error) {
	res, err := i.call(ctx, name, params...)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	return res, nil
}

// call is Call without the error context, so Run can classify the raw error.
func (i *Instance) call(ctx context.Context, name string, params ...uint64) ([]uint64, error) {
	if c := i.cause.Load(); c != nil {
		return nil, *c
	}
	fn := i.fns[name]
	if fn == nil {
		// wazero makes a new call engine (with its own stack) per
		// ExportedFunction: look each export up once per instance.
		if fn = i.mod.ExportedFunction(name); fn == nil {
			return nil, fmt.Errorf("%w: no export named %q", api.ErrNotFound, name)
		}
		if i.fns == nil {
			i.fns = map[string]wapi.Function{}
		}
		i.fns[name] = fn
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { i.Kill(context.Cause(ctx)) })
		defer stop()
	}
	if i.deadline > 0 && i.worker == nil { // the deadline covers waiting for a slot too
		i.arm()
		defer i.disarm()
	}
	if !i.enter(i.ctx.Done()) {
		return nil, i.slotError()
	}
	res, err := fn.Call(i.ctx, params...)
	i.leave()
	i.calls.Add(1)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// slotError explains why no execution slot could be had.
func (i *Instance) slotError() error {
	if c := i.cause.Load(); c != nil {
		return *c
	}
	return fmt.Errorf("waiting for an execution slot: %w", api.ErrClosed)
}

// Kill stops the instance: a running guest is interrupted at its next
// loop or call boundary (or inside a blocking host call) and every later
// call fails with cause. Kill is idempotent; the first cause wins.
func (i *Instance) Kill(cause error) {
	if cause == nil {
		cause = ErrKilled
	}
	i.killOnce.Do(func() {
		i.cause.Store(&cause)
		i.cancel(cause)
		i.abandonCall()
	})
}

// Killed returns the kill cause, or nil.
func (i *Instance) Killed() error {
	if c := i.cause.Load(); c != nil {
		return *c
	}
	return nil
}

// classify turns the error of a guest call into an Exit.
func (i *Instance) classify(err error) Exit {
	// A guest that returns normally after a kill (its recv answered
	// ERR_CLOSED because of the kill, and it went home) was still killed:
	// report it so, or a kill would sometimes read as a clean exit.
	if cause := i.Killed(); cause != nil {
		reason := "killed: " + cause.Error()
		if errors.Is(cause, ErrDeadline) {
			reason = fmt.Sprintf("deadline of %s exceeded", i.deadline)
		}
		return Exit{State: api.StateKilled, Reason: reason, Err: cause}
	}
	if err == nil {
		return Exit{State: api.StateRunning}
	}
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		switch code {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			return Exit{State: api.StateKilled, Reason: "stopped: " + err.Error(), Err: err}
		}
		ex := Exit{State: api.StateExited, Code: code}
		if code != 0 {
			ex.Reason = fmt.Sprintf("exit code %d", code)
			if d := i.mem.denied.Load(); d > 0 {
				ex.Reason += fmt.Sprintf(" after memory limit of %d pages was reached", i.mem.limit/65536)
			}
			ex.Err = err
		}
		return ex
	}
	reason, _, _ := strings.Cut(err.Error(), "\n") // drop the wasm stack trace
	if d := i.mem.denied.Load(); d > 0 {
		reason += fmt.Sprintf(" (memory limit of %d pages reached)", i.mem.limit/65536)
		err = fmt.Errorf("%w: %w", api.ErrLimit, err)
	}
	return Exit{State: api.StateCrashed, Reason: reason, Err: err}
}

// enter takes an execution slot for the calling goroutine.
func (i *Instance) enter(done <-chan struct{}) bool {
	if !i.m.e.acquire(done) {
		return false
	}
	i.holding = true
	i.entered = nanotime()
	return true
}

// leave gives the execution slot back and accounts the CPU time used.
func (i *Instance) leave() {
	if !i.holding {
		return
	}
	if i.entered != 0 { // 0: a library worker serving a call charged to its caller
		i.cpu.Add(nanotime() - i.entered)
	}
	i.holding = false
	i.m.e.release()
}

// arm starts the deadline watchdog for the call about to run.
func (i *Instance) arm() {
	i.due.Store(nanotime() + int64(i.deadline))
	if i.timer == nil {
		i.timer = time.AfterFunc(i.deadline, i.onDeadline)
		return
	}
	i.timer.Reset(i.deadline)
}

func (i *Instance) disarm() {
	i.due.Store(0)
	i.timer.Stop()
}

func (i *Instance) onDeadline() {
	if due := i.due.Load(); due != 0 && nanotime() >= due {
		i.Kill(ErrDeadline)
	}
}

// blocking runs fn, which may block, without holding an execution slot, and
// takes the slot back afterwards. If the instance is killed meanwhile
// (deadline or kill) it unwinds the guest with an exit error instead.
func (i *Instance) blocking(fn func()) {
	held := i.holding
	i.leave()
	fn()
	if held {
		i.reenter()
	}
}

func (i *Instance) reenter() {
	if !i.enter(i.ctx.Done()) {
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
}

// sleep is the guest's nanosleep: it honours the call's deadline and kills,
// and frees the execution slot while it waits.
func (i *Instance) sleep(ns int64) {
	held := i.holding
	i.leave()
	t := time.NewTimer(time.Duration(ns))
	select {
	case <-t.C:
	case <-i.ctx.Done():
		t.Stop()
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
	if held {
		i.reenter()
	}
}

// Stats is a snapshot of an instance's resource use.
type Stats struct {
	CPUTime     time.Duration
	MemoryBytes uint64
	MemoryLimit uint64
	OpenFiles   int
	DeniedOpens uint64
	DeniedGrows uint64
	Calls       uint64
	Net         *api.NetStats // nil without a network grant
}

// Stats reports the instance's resource use; safe from any goroutine.
func (i *Instance) Stats() Stats {
	return Stats{
		CPUTime:     time.Duration(i.cpu.Load()),
		MemoryBytes: i.mem.size.Load(),
		MemoryLimit: i.mem.limit,
		OpenFiles:   i.quota.Open(),
		DeniedOpens: i.quota.Denied(),
		DeniedGrows: i.mem.denied.Load(),
		Calls:       i.calls.Load(),
		Net:         i.netStats(),
	}
}

// StopListening closes the guest's listeners (its connections stay): it
// is being asked to stop. It reports whether the guest had any. Safe from
// any goroutine.
func (i *Instance) StopListening() bool {
	if i.wasi != nil && i.wasi.Net != nil {
		return i.wasi.Net.CloseListeners() > 0
	}
	return false
}

// netStats reads the process's network counters.
func (i *Instance) netStats() *api.NetStats {
	if i.wasi == nil || i.wasi.Net == nil {
		return nil
	}
	n := i.wasi.Net
	return &api.NetStats{Listen: i.listeners, Sockets: n.Open(), Accepted: n.Accepted.Load(), Dialled: n.Dialled.Load(),
		Denied: n.Denied.Load(), BytesIn: n.BytesIn.Load(), BytesOut: n.BytesOut.Load()}
}

// Module returns the compiled module the instance was made from.
func (i *Instance) Module() *Module { return i.m }

// Memory returns the guest's exported memory, or nil.
func (i *Instance) Memory() wapi.Memory { return i.mod.Memory() }

// Close releases the instance and its mounts. It is safe after Kill.
func (i *Instance) Close(ctx context.Context) error {
	i.Kill(api.ErrClosed)
	if i.timer != nil {
		i.timer.Stop()
	}
	var err error
	if i.mod != nil {
		err = i.mod.Close(ctx)
	}
	i.closeMounts()
	if i.surfaces != nil {
		i.surfaces.Close()
	}
	return err
}

// Surfaces returns the instance's surfaces, or nil when it has no display.
func (i *Instance) Surfaces() *raster.Set { return i.surfaces }

var monoStart = time.Now()

func nanotime() int64 { return int64(time.Since(monoStart)) }

// Exports of the push model (docs/ABI.md): the kernel asks the guest for a
// buffer, writes the envelope there and calls the handler.
const (
	AllocExport   = "orbital_alloc"      // (size i32) -> ptr i32
	HandlerExport = "orbital_on_message" // (ptr i32, len i32) -> ()
)

// Deliver hands one message to a push-model guest: orbital_alloc, copy the
// envelope into guest memory, orbital_on_message. An error ends the
// instance the way Run's would (see Exit).
func (i *Instance) Deliver(ctx context.Context, env *Envelope) error {
	size := env.Size()
	res, err := i.call(ctx, AllocExport, uint64(size))
	if err != nil {
		return err
	}
	ptr := uint32(res[0])
	buf, ok := i.mod.Memory().Read(ptr, uint32(size))
	if !ok || ptr == 0 {
		err := fmt.Errorf("%w: %s returned %d for %d bytes, outside memory", api.ErrBadModule, AllocExport, ptr, size)
		i.Kill(err)
		return err
	}
	env.Encode(buf)
	_, err = i.call(ctx, HandlerExport, uint64(ptr), uint64(size))
	return err
}

// Exit classifies an error returned by Call or Deliver the way Run does.
func (i *Instance) Exit(err error) Exit {
	ex := i.classify(err)
	if ex.State == api.StateRunning {
		ex.State = api.StateExited
	}
	return ex
}

// Done is closed when the instance is killed.
func (i *Instance) Done() <-chan struct{} { return i.ctx.Done() }

// unusedRand is wazero's random source: the guest's random_get is served
// by internal/wasi, so nothing reads it; reading it would be a bug.
type unusedRand struct{}

func (unusedRand) Read(p []byte) (int, error) {
	return 0, errors.New("engine: wazero's random source is not the guest's (internal/wasi serves random_get)")
}

// fakeRand is the randomness of a process without the random capability:
// a fixed-seed splitmix64 stream, the same for every instance.
type fakeRand struct{ state uint64 }

func (f *fakeRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		f.state += 0x9E3779B97F4A7C15
		z := f.state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(z >> (8 * j))
		}
	}
	return len(p), nil
}
