// Command testdriver is an out-of-process driver for the devices tests,
// written against the wire protocol alone (as a driver in another language
// would be). Its config's mode says how it behaves:
//
//	ok       serves echo and burst (burst: publish N frames of S bytes)
//	crash    exits with status 3 soon after the handshake
//	hang     stops reading after the handshake (answers no ping)
//	flood    publishes as fast as it can
//	garbage  writes bytes that are not protocol after the handshake
//	escape   tries to read /etc/shadow-like files outside its grant and
//	         reports on test.escape whether it could
//	hog      allocates and touches memory, 16 MiB at a time, until its
//	         memory limit stops it
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/orbitalfoundation/orbital/drivers/wire"
)

func main() {
	f := os.NewFile(3, "socket")
	conn, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "no socket:", err)
		os.Exit(2)
	}
	r, w := wire.NewReader(conn, 0), wire.NewWriter(conn)
	m, err := r.Read()
	if err != nil || m.Type != wire.TypeStart {
		fmt.Fprintln(os.Stderr, "no START:", err)
		os.Exit(2)
	}
	var st wire.Start
	_ = json.Unmarshal(m.Data, &st)
	var cfg struct {
		Mode    string `json:"mode"`
		Version string `json:"version"`
		Probe   string `json:"probe"`
	}
	_ = json.Unmarshal(st.Config, &cfg)
	if cfg.Version == "" {
		cfg.Version = "1.0.0"
	}
	hello, _ := json.Marshal(wire.Hello{Device: st.Device, Version: cfg.Version, Protocol: wire.Protocol})
	must(w.Write(wire.Msg{Type: wire.TypeHello, Data: hello}))
	fmt.Fprintln(os.Stderr, "testdriver up in mode", cfg.Mode)
	switch cfg.Mode {
	case "crash":
		time.Sleep(100 * time.Millisecond)
		os.Exit(3)
	case "hang":
		idle()
	case "flood":
		for i := 0; ; i++ {
			if err := w.Write(wire.Msg{Type: wire.TypePublish, Subject: st.Device + ".flood", Header: []byte("x")}); err != nil {
				os.Exit(1)
			}
		}
	case "hog":
		var keep [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
			time.Sleep(time.Millisecond)
		}
	case "garbage":
		_, _ = conn.Write([]byte{0xff, 0xff, 0xff, 0xff, 'j', 'u', 'n', 'k'})
		idle()
	case "escape":
		_, err := os.ReadFile(cfg.Probe)
		res := "denied: " + fmt.Sprint(err)
		if err == nil {
			res = "read"
		}
		must(w.Write(wire.Msg{Type: wire.TypePublish, Subject: st.Device + ".escape", Header: []byte(res)}))
	}
	for {
		m, err := r.Read()
		if err != nil {
			os.Exit(0)
		}
		switch m.Type {
		case wire.TypePing:
			must(w.Write(wire.Msg{Type: wire.TypePong, ID: m.ID}))
		case wire.TypeCall:
			go serve(w, st.Device, m)
		}
	}
}

// idle blocks for good without tripping the Go runtime's deadlock check
// (a bare select{} with nothing else alive exits with status 2, racing the
// node's verdict).
func idle() {
	for {
		time.Sleep(time.Hour)
	}
}

func serve(w *wire.Writer, device string, m wire.Msg) {
	res := wire.Msg{Type: wire.TypeResult, ID: m.ID}
	switch m.Fn {
	case "echo":
		res.Data = m.Data
	case "burst": // args: u32 count, u32 size
		if len(m.Data) != 8 {
			res.Status, res.Data = wire.StatusError, []byte("burst wants 8 bytes")
			break
		}
		n, size := binary.LittleEndian.Uint32(m.Data), binary.LittleEndian.Uint32(m.Data[4:])
		frame := make([]byte, size)
		for i := uint32(0); i < n; i++ {
			binary.LittleEndian.PutUint32(frame, i)
			must(w.Write(wire.Msg{Type: wire.TypePublish, Subject: device + ".frames", Header: []byte("f"), Data: frame}))
		}
	default:
		res.Status, res.Data = wire.StatusError, []byte("no function "+m.Fn)
	}
	must(w.Write(res))
}

func must(err error) {
	if err != nil {
		os.Exit(1)
	}
}
