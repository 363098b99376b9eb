package orbital_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital"
	"github.com/orbitalfoundation/orbital/api"
)

// helloHex is testdata/hello.wat assembled by wat2wasm: a command module
// that writes "hello from wasm" to stdout (the repository keeps no .wasm
// files; TestExampleModuleIsTheWAT checks the two agree).
const helloHex = "0061736d01000000010c0260047f7f7f7f017f60000002230116776173695f736e617073686f745f70726576696577" +
	"310866645f77726974650000030201010503010001071302066d656d6f72790200065f737461727400010a1d011b0041" +
	"00411036020041044110360200410141004101410810001a0b0b16010041100b1068656c6c6f2066726f6d2077617" +
	"36d0a"

func helloWasm() []byte {
	b, err := hex.DecodeString(helloHex)
	if err != nil {
		panic(err)
	}
	return b
}

// TestExampleModuleIsTheWAT: helloHex is what wat2wasm makes of
// testdata/hello.wat (skipped where wat2wasm is not installed).
func TestExampleModuleIsTheWAT(t *testing.T) {
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed")
	}
	out := filepath.Join(t.TempDir(), "hello.wasm")
	if msg, err := exec.Command(tool, filepath.Join("testdata", "hello.wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v: %s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, helloWasm()) {
		t.Fatalf("helloHex is stale; set it to the hex of wat2wasm's output:\n%x", got)
	}
}

// newExampleKernel starts a kernel whose data directory is a temporary one.
func newExampleKernel() (*orbital.Kernel, func()) {
	home, err := os.MkdirTemp("", "orbital-example-")
	if err != nil {
		log.Fatal(err)
	}
	k, err := orbital.NewKernel(context.Background(), orbital.NewConfig().WithHome(home))
	if err != nil {
		log.Fatal(err)
	}
	return k, func() { _ = k.Close(context.Background()); _ = os.RemoveAll(home) }
}

// A process runs a wasm module confined to what it is granted: here its
// stdout, nothing else.
func Example() {
	ctx := context.Background()
	k, done := newExampleKernel()
	defer done()

	mod, err := k.Load(ctx, "hello", helloWasm(), nil)
	if err != nil {
		log.Fatal(err)
	}
	var out bytes.Buffer
	p, err := k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: orbital.Grant{Stdout: true}, Stdout: &out})
	if err != nil {
		log.Fatal(err)
	}
	info, err := p.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
	fmt.Println(info.State, info.ExitCode)
	// Output:
	// hello from wasm
	// exited 0
}

// A manifest asks; a grant allows. A module whose manifest requests
// something the grant does not give is refused before it runs, and the
// error says what would grant it.
func ExampleKernel_Spawn_denied() {
	ctx := context.Background()
	k, done := newExampleKernel()
	defer done()

	m, err := orbital.ParseManifest([]byte(`name = "hello"
version = "1.0.0"
kind = "app"
[capabilities]
clock = true
`), "hello.orbital.toml")
	if err != nil {
		log.Fatal(err)
	}
	mod, err := k.Load(ctx, "hello", helloWasm(), m)
	if err != nil {
		log.Fatal(err)
	}
	_, err = k.Spawn(ctx, mod, orbital.SpawnOptions{Grant: orbital.Grant{Stdout: true}})
	fmt.Println(errors.Is(err, api.ErrPermissionDenied))
	// Output:
	// true
}

// The host is on the bus like any process: a connection publishes,
// subscribes, sends and requests with the permissions it was opened with.
func ExampleKernel_Connect() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k, done := newExampleKernel()
	defer done()

	sensors, err := k.Connect("sensors", orbital.ConnOptions{Publish: []string{"sensors.>"}})
	if err != nil {
		log.Fatal(err)
	}
	defer sensors.Close()
	display, err := k.Connect("display", orbital.ConnOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer display.Close()
	if _, err := display.Subscribe("sensors.*.temperature", ""); err != nil {
		log.Fatal(err)
	}
	if err := sensors.Publish("sensors.kitchen.temperature", []byte("21.5")); err != nil {
		log.Fatal(err)
	}
	m, err := display.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s from %s: %s\n", m.Subject, m.From, m.Data)
	// The sensors connection may only publish under sensors.>.
	err = sensors.Publish("display.brightness", []byte("0"))
	fmt.Println(errors.Is(err, api.ErrPermissionDenied))
	// Output:
	// sensors.kitchen.temperature from sensors: 21.5
	// true
}

// A request waits for the first reply; whoever subscribed to the subject
// answers with Reply.
func ExampleConn_Request() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k, done := newExampleKernel()
	defer done()

	service, err := k.Connect("upper", orbital.ConnOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer service.Close()
	if _, err := service.Subscribe("text.upper", ""); err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			req, err := service.Recv(ctx)
			if err != nil {
				return
			}
			_ = service.Reply(req, []byte(strings.ToUpper(string(req.Data))))
		}
	}()
	client, err := k.Connect("client", orbital.ConnOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	reply, err := client.Request(ctx, "text.upper", []byte("shout"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply.Data))
	// Output:
	// SHOUT
}

// A library implemented in Go is called exactly as a wasm library is: by
// name and version range, with its declared shapes checked on the host.
func ExampleKernel_ProvideNative() {
	ctx := context.Background()
	k, done := newExampleKernel()
	defer done()

	_, err := k.ProvideNative("greeter", "1.0.0", []orbital.NativeExport{{
		Export: orbital.Export{Name: "greet", Args: "{name: string}", Result: "string"},
		Func: func(_ context.Context, args []byte) ([]byte, error) {
			name := strings.TrimSuffix(strings.TrimPrefix(string(args), `{"name":"`), `"}`)
			return []byte(`"hello, ` + name + `"`), nil
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	res, err := k.Call(ctx, "greeter", "greet", []byte(`{"name":"orbit"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(res))
	// Arguments that do not have the declared shape never reach the function.
	_, err = k.Call(ctx, "greeter", "greet", []byte(`{"name":42}`))
	fmt.Println(errors.Is(err, api.ErrInvalid))
	for _, l := range k.Libraries() {
		fmt.Println(l.Name, l.Version, l.Native, l.Calls)
	}
	// Output:
	// "hello, orbit"
	// true
	// greeter 1.0.0 true 1
}
