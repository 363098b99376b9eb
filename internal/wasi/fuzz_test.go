package wasi

import (
	"encoding/binary"
	"testing"
)

// FuzzFunctions calls every function with arbitrary parameters on an
// arbitrary memory (iovec arrays, subscriptions, path lengths, dirent
// buffers all come from it): no input may panic, and the errno is always
// a WASI errno. proc_exit is left out (it ends the guest by design).
func FuzzFunctions(f *testing.F) {
	f.Add(uint16(0), []byte{}, []byte{})
	f.Add(uint16(20), binary.LittleEndian.AppendUint64(nil, 3), make([]byte, 256))                                // fd_read on the preopen
	f.Add(uint16(28), append(binary.LittleEndian.AppendUint64(nil, 100), make([]byte, 56)...), make([]byte, 512)) // poll_oneoff
	f.Fuzz(func(t *testing.T, which uint16, params []byte, memory []byte) {
		funcs := Functions()
		fn := funcs[int(which)%len(funcs)]
		if fn.Name == "proc_exit" {
			return
		}
		g := newGuest(t, false)
		g.m = make(mem, 1024)
		copy(g.m, memory)
		st := make([]uint64, max(len(fn.Params), len(fn.Results)))
		for i := range fn.Params {
			if len(params) >= 8 {
				st[i] = binary.LittleEndian.Uint64(params)
				params = params[8:]
			}
			if fn.Params[i] == I32 {
				st[i] = uint64(uint32(st[i]))
			}
		}
		fn.Call(g.s, g.m, st)
		if len(fn.Results) > 0 && st[0] > uint64(ENOTCAPABLE) {
			t.Fatalf("%s returned %d, not a WASI errno", fn.Name, st[0])
		}
	})
}
