// Package orbital is the Go guest SDK for Orbital: it lets a module built
// with GOOS=wasip1 GOARCH=wasm talk to the kernel's message bus, call
// functions of library modules (or be such a library) and read its
// configuration, through the orbital_v1 host functions described in
// docs/ABI.md.
//
// A service is usually a command module whose main loops on [Recv], or hands
// a handler to [Serve]:
//
//	func main() {
//		err := orbital.Serve(func(m orbital.Message) {
//			if m.Kind == orbital.KindRequest {
//				m.Respond(m.Data)
//			}
//		})
//		if err != nil {
//			orbital.Log(orbital.LevelError, err.Error())
//			os.Exit(1)
//		}
//	}
//
// What the module may publish, subscribe to and send to is set by the
// [bus] table of its orbital.toml; anything else fails with [ErrDenied].
// Subjects listed under `listen` are subscribed by the kernel before the
// module starts, so many services never call [Subscribe].
//
// # Calls between modules
//
// A module calls a function of a library module (kind "library") through
// the kernel, with bytes as arguments and result:
//
//	gray, err := orbital.Call("vision", "grayscale", pixels)
//
// The caller's orbital.toml lists the library under [dependencies] with a
// version range, and the node grants the call (calls = ["vision"]). [Call]
// binds "vision.grayscale" on first use and keeps the binding; [Bind]
// returns a [*Func] to hold on to, and [CallJSON] encodes and decodes JSON.
// Errors are [*CallError] values carrying the kernel's message; test their
// class with errors.Is ([ErrFailed]: the function returned an error;
// [ErrNotFound], [ErrDenied], [ErrVersion]: no usable library; [ErrCrashed],
// [ErrTimeout], [ErrCycle], …).
//
// A library's main registers its functions with [Export] (bytes) or
// [ExportJSON] (JSON in and out) and hands over to [ServeCalls]:
//
//	func main() {
//		orbital.Export("grayscale", grayscale)
//		if err := orbital.ServeCalls(); err != nil {
//			orbital.Log(orbital.LevelError, err.Error())
//			os.Exit(1)
//		}
//	}
//
// The functions must also be declared in its orbital.toml ([exports.NAME],
// with the shapes of their arguments and result, which the kernel checks).
// A function that panics crashes the library; the caller gets [ErrCrashed]
// and the kernel restarts the library.
//
// # Configuration
//
// [Config] and [ConfigString] return the settings the node configuration
// gives the process (config = { key = "value", n = 3 } on its [[process]]).
//
// # Memory
//
// A Go guest spends its life in host calls, where the Go scheduler does not
// run, and the garbage collector's background work needs the scheduler. The
// SDK therefore allocates nothing per received message: [Recv] reuses one
// buffer (growing it when a message does not fit), the Data and Reply of a
// [Message] borrow that buffer until the next Recv, and Subject and From
// are interned. [ServeCalls] likewise receives every call into one reused
// buffer, and [Func.AppendCall] lets a caller reuse its result buffer. Recv,
// [Request], calls and ServeCalls also yield to the Go scheduler every 256
// calls (and Recv after every timeout), so the garbage the module itself
// makes is collected.
//
// # Concurrency
//
// wasip1 has one thread: while [Recv], [Request] or a call waits in the
// kernel no other goroutine of the module runs. Call Recv (or Serve) and
// ServeCalls from one goroutine only.
//
// # Other platforms
//
// The package also builds for the host so that its documentation, vet and
// tests work there. Outside wasip1 there is no kernel: every bus call and
// every call to a library fails with [ErrDenied], exactly as for a process
// the kernel has not connected to the bus nor granted any library,
// [ServeCalls] returns ErrDenied, [Config] returns no configuration and
// [Log] writes to standard error.
package orbital
