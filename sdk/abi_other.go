//go:build !wasip1

package orbital

import (
	"fmt"
	"os"
)

// Outside wasip1 there is no kernel to import from. The shims forward to
// host, which by default behaves like a kernel that has not connected the
// process to the bus nor granted it any library: every bus call and every
// call between modules fails with ERR_DENIED, and the module has no
// configuration. Log writes to standard error. The package's tests swap in
// a fake kernel.

// kernel is the orbital_v1 ABI with Go slices in place of guest pointers.
type kernel interface {
	publish(subject string, data []byte) int32
	subscribe(pattern, queue string) int32
	unsubscribe(id int32) int32
	send(to string, data []byte) int32
	request(subject string, data []byte, timeoutMS int32, buf []byte) int32
	reply(reply string, data []byte) int32
	recv(buf []byte, timeoutMS int32) int32
	recvSize() int32
	blobCreate(data []byte) int64
	blobPublish(subject string, blob int64) int32
	blobLen(blob int64) int64
	blobRead(blob, off int64, buf []byte) int32
	blobRelease(blob int64) int32
	log(level int32, msg string)
	callBind(lib, fn string) int32
	call(handle int32, args, res []byte) int64
	callResult(buf []byte) int32
	callError(buf []byte) int32
	callServe(status int32, res, buf []byte) int32
	callSize() int32
	config(buf []byte) int32
}

var host kernel = detached{}

// detached is a process with no bus connection.
type detached struct{}

func (detached) publish(string, []byte) int32                { return codeDenied }
func (detached) subscribe(string, string) int32              { return codeDenied }
func (detached) unsubscribe(int32) int32                     { return codeDenied }
func (detached) send(string, []byte) int32                   { return codeDenied }
func (detached) request(string, []byte, int32, []byte) int32 { return codeDenied }
func (detached) reply(string, []byte) int32                  { return codeDenied }
func (detached) recv([]byte, int32) int32                    { return codeDenied }
func (detached) recvSize() int32                             { return 0 }
func (detached) blobCreate([]byte) int64                     { return codeDenied }
func (detached) blobPublish(string, int64) int32             { return codeDenied }
func (detached) blobLen(int64) int64                         { return codeDenied }
func (detached) blobRead(int64, int64, []byte) int32         { return codeDenied }
func (detached) blobRelease(int64) int32                     { return codeDenied }
func (detached) callBind(string, string) int32               { return codeDenied }
func (detached) call(int32, []byte, []byte) int64            { return codeDenied }
func (detached) callResult([]byte) int32                     { return codeNotFound }
func (detached) callError([]byte) int32                      { return 0 }
func (detached) callServe(int32, []byte, []byte) int32       { return codeDenied }
func (detached) callSize() int32                             { return 0 }
func (detached) config([]byte) int32                         { return 0 }

func (detached) log(level int32, msg string) {
	names := [...]string{"debug", "info", "warn", "error"}
	name := fmt.Sprint(level)
	if level >= 0 && int(level) < len(names) {
		name = names[level]
	}
	fmt.Fprintf(os.Stderr, "orbital %s: %s\n", name, msg)
}

func hostPublish(subject string, data []byte) int32 { return host.publish(subject, data) }
func hostSubscribe(pattern, queue string) int32     { return host.subscribe(pattern, queue) }
func hostUnsubscribe(id int32) int32                { return host.unsubscribe(id) }
func hostSend(to string, data []byte) int32         { return host.send(to, data) }
func hostRequest(subject string, data []byte, timeoutMS int32, buf []byte) int32 {
	return host.request(subject, data, timeoutMS, buf)
}
func hostReply(reply string, data []byte) int32         { return host.reply(reply, data) }
func hostRecv(buf []byte, timeoutMS int32) int32        { return host.recv(buf, timeoutMS) }
func hostRecvSize() int32                               { return host.recvSize() }
func hostBlobCreate(data []byte) int64                  { return host.blobCreate(data) }
func hostBlobPublish(subject string, blob int64) int32  { return host.blobPublish(subject, blob) }
func hostBlobLen(blob int64) int64                      { return host.blobLen(blob) }
func hostBlobRead(blob, off int64, buf []byte) int32    { return host.blobRead(blob, off, buf) }
func hostBlobRelease(blob int64) int32                  { return host.blobRelease(blob) }
func hostLog(level int32, msg string)                   { host.log(level, msg) }
func hostCallBind(lib, fn string) int32                 { return host.callBind(lib, fn) }
func hostCall(handle int32, args, res []byte) int64     { return host.call(handle, args, res) }
func hostCallResult(buf []byte) int32                   { return host.callResult(buf) }
func hostCallError(buf []byte) int32                    { return host.callError(buf) }
func hostCallServe(status int32, res, buf []byte) int32 { return host.callServe(status, res, buf) }
func hostCallSize() int32                               { return host.callSize() }
func hostConfig(buf []byte) int32                       { return host.config(buf) }

// Outside wasip1 there are no sockets to hand out.
func hostSockConnect(string, *int32) int32 { return codeDenied }
