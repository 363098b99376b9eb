package engine

import (
	"context"
	"net"

	wapi "github.com/tetratelabs/wazero/api"

	"github.com/orbitalfoundation/orbital/internal/wasi"
)

// netFunctions are the orbital_v1 network imports: what WASI preview 1
// lacks (it can accept on a preopened listener, not dial).
func netFunctions() []hostFn {
	i32 := wapi.ValueTypeI32
	return []hostFn{
		// sock_connect(addr i32, addr_len i32, fd i32) -> i32
		{"sock_connect", []wapi.ValueType{i32, i32, i32}, []wapi.ValueType{i32}, func(_ context.Context, i *Instance, mod wapi.Module, st []uint64) {
			ret := func(c int32) { st[0] = uint64(uint32(c)) }
			addr, ok := guestString(mod, uint32(st[0]), uint32(st[1]))
			if !ok {
				ret(ErrCodeInvalid)
				return
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				ret(ErrCodeInvalid)
				return
			}
			if i.wasi == nil {
				ret(ErrCodeDenied)
				return
			}
			fd, errno := i.wasi.Connect(addr, wasi.DialTCP)
			switch errno {
			case wasi.ESUCCESS:
			case wasi.ENOTCAPABLE:
				ret(ErrCodeDenied)
				return
			case wasi.EMFILE:
				ret(ErrCodeLimit)
				return
			case wasi.ETIMEDOUT:
				ret(ErrCodeTimeout)
				return
			default:
				ret(ErrCodeNotFound)
				return
			}
			if mem := mod.Memory(); mem == nil || !mem.WriteUint32Le(uint32(st[2]), uint32(fd)) {
				_ = i.wasi.Files.Close(fd)
				ret(ErrCodeInvalid)
				return
			}
			ret(0)
		}},
	}
}
