// Package orbital is the Go guest SDK for Orbital: it lets a module built
// with GOOS=wasip1 GOARCH=wasm talk to the kernel's message bus through the
// orbital_v1 host functions described in docs/ABI.md.
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
// # Memory
//
// A Go guest spends its life in host calls, where the Go scheduler does not
// run, and the garbage collector's background work needs the scheduler. The
// SDK therefore allocates nothing per received message: [Recv] reuses one
// buffer (growing it when a message does not fit), the Data and Reply of a
// [Message] borrow that buffer until the next Recv, and Subject and From
// are interned. Recv and [Request] also yield to the Go scheduler every 256
// calls and after every timeout, so the garbage the module itself makes is
// collected.
//
// # Concurrency
//
// wasip1 has one thread: while [Recv] or [Request] waits in the kernel no
// other goroutine of the module runs. Call Recv (or Serve) from one
// goroutine only.
//
// # Other platforms
//
// The package also builds for the host so that its documentation, vet and
// tests work there. Outside wasip1 there is no kernel: every bus call fails
// with [ErrDenied], exactly as for a process the kernel has not connected to
// the bus, and [Log] writes to standard error.
package orbital
