//go:build wasip1

package orbital

import "unsafe"

// The orbital_v1 imports, exactly as docs/ABI.md declares them. Pointers are
// offsets into the module's memory; Go passes unsafe.Pointer as an i32.

//go:wasmimport orbital_v1 publish
func wasmPublish(subj unsafe.Pointer, subjLen uint32, data unsafe.Pointer, dataLen uint32) int32

//go:wasmimport orbital_v1 subscribe
func wasmSubscribe(pattern unsafe.Pointer, patternLen uint32, queue unsafe.Pointer, queueLen uint32) int32

//go:wasmimport orbital_v1 unsubscribe
func wasmUnsubscribe(id int32) int32

//go:wasmimport orbital_v1 send
func wasmSend(to unsafe.Pointer, toLen uint32, data unsafe.Pointer, dataLen uint32) int32

//go:wasmimport orbital_v1 request
func wasmRequest(subj unsafe.Pointer, subjLen uint32, data unsafe.Pointer, dataLen uint32, timeoutMS int32, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbital_v1 reply
func wasmReply(reply unsafe.Pointer, replyLen uint32, data unsafe.Pointer, dataLen uint32) int32

//go:wasmimport orbital_v1 recv
func wasmRecv(buf unsafe.Pointer, bufCap uint32, timeoutMS int32) int32

//go:wasmimport orbital_v1 recv_size
func wasmRecvSize() int32

//go:wasmimport orbital_v1 blob_create
func wasmBlobCreate(data unsafe.Pointer, dataLen uint32) int64

//go:wasmimport orbital_v1 blob_publish
func wasmBlobPublish(subj unsafe.Pointer, subjLen uint32, blob int64) int32

//go:wasmimport orbital_v1 blob_len
func wasmBlobLen(blob int64) int64

//go:wasmimport orbital_v1 blob_read
func wasmBlobRead(blob int64, offset int64, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport orbital_v1 blob_release
func wasmBlobRelease(blob int64) int32

//go:wasmimport orbital_v1 log
func wasmLog(level int32, msg unsafe.Pointer, msgLen uint32)

//go:wasmimport orbital_v1 call_bind
func wasmCallBind(lib unsafe.Pointer, libLen uint32, fn unsafe.Pointer, fnLen uint32) int32

//go:wasmimport orbital_v1 call
func wasmCall(handle int32, args unsafe.Pointer, argsLen uint32, res unsafe.Pointer, resCap uint32) int64

//go:wasmimport orbital_v1 call_result
func wasmCallResult(buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbital_v1 call_error
func wasmCallError(buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbital_v1 call_serve
func wasmCallServe(status int32, res unsafe.Pointer, resLen uint32, buf unsafe.Pointer, bufCap uint32) int32

//go:wasmimport orbital_v1 call_size
func wasmCallSize() int32

//go:wasmimport orbital_v1 sock_connect
func wasmSockConnect(addr unsafe.Pointer, addrLen uint32, fd unsafe.Pointer) int32

//go:wasmimport orbital_v1 config
func wasmConfig(buf unsafe.Pointer, bufCap uint32) int32

// Byte slices and strings of wasm32 memory fit in 32 bits; the length is
// truncated only for values no guest memory can hold.

func sp(s string) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}
func bp(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

func hostPublish(subject string, data []byte) int32 {
	s, sl := sp(subject)
	d, dl := bp(data)
	return wasmPublish(s, sl, d, dl)
}

func hostSubscribe(pattern, queue string) int32 {
	p, pl := sp(pattern)
	q, ql := sp(queue)
	return wasmSubscribe(p, pl, q, ql)
}

func hostUnsubscribe(id int32) int32 { return wasmUnsubscribe(id) }

func hostSend(to string, data []byte) int32 {
	t, tl := sp(to)
	d, dl := bp(data)
	return wasmSend(t, tl, d, dl)
}

func hostRequest(subject string, data []byte, timeoutMS int32, buf []byte) int32 {
	s, sl := sp(subject)
	d, dl := bp(data)
	b, bl := bp(buf)
	return wasmRequest(s, sl, d, dl, timeoutMS, b, bl)
}

func hostReply(reply string, data []byte) int32 {
	r, rl := sp(reply)
	d, dl := bp(data)
	return wasmReply(r, rl, d, dl)
}

func hostRecv(buf []byte, timeoutMS int32) int32 {
	b, bl := bp(buf)
	return wasmRecv(b, bl, timeoutMS)
}

func hostRecvSize() int32 { return wasmRecvSize() }

func hostBlobCreate(data []byte) int64 {
	d, dl := bp(data)
	return wasmBlobCreate(d, dl)
}

func hostBlobPublish(subject string, blob int64) int32 {
	s, sl := sp(subject)
	return wasmBlobPublish(s, sl, blob)
}

func hostBlobLen(blob int64) int64 { return wasmBlobLen(blob) }

func hostBlobRead(blob, off int64, buf []byte) int32 {
	b, bl := bp(buf)
	return wasmBlobRead(blob, off, b, bl)
}

func hostBlobRelease(blob int64) int32 { return wasmBlobRelease(blob) }

func hostLog(level int32, msg string) {
	m, ml := sp(msg)
	wasmLog(level, m, ml)
}

func hostCallBind(lib, fn string) int32 {
	l, ll := sp(lib)
	f, fl := sp(fn)
	return wasmCallBind(l, ll, f, fl)
}

func hostCall(handle int32, args, res []byte) int64 {
	a, al := bp(args)
	r, rl := bp(res)
	return wasmCall(handle, a, al, r, rl)
}

func hostCallResult(buf []byte) int32 {
	b, bl := bp(buf)
	return wasmCallResult(b, bl)
}

func hostCallError(buf []byte) int32 {
	b, bl := bp(buf)
	return wasmCallError(b, bl)
}

func hostCallServe(status int32, res, buf []byte) int32 {
	r, rl := bp(res)
	b, bl := bp(buf)
	return wasmCallServe(status, r, rl, b, bl)
}

func hostCallSize() int32 { return wasmCallSize() }

func hostConfig(buf []byte) int32 {
	b, bl := bp(buf)
	return wasmConfig(b, bl)
}

func hostSockConnect(addr string, fd *int32) int32 {
	a, al := sp(addr)
	return wasmSockConnect(a, al, unsafe.Pointer(fd))
}
