//go:build !wasip1

package orbital

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// callKernel is a kernel with libraries to call and a queue of calls to
// serve, following docs/ABI.md: call keeps a result that does not fit for
// call_result; call_serve keeps a call that does not fit and answers
// ERR_BUFFER, call_size tells its size.
type callKernel struct {
	detached

	// Caller side.
	funcs   map[string]func([]byte) ([]byte, error) // "lib.fn"; an error → ERR_FAILED
	binds   []string                                // call_bind calls that succeeded, in order
	bindN   int                                     // call_bind calls
	runs    int                                     // library functions run
	fetches int                                     // call_result calls
	pending []byte                                  // a result kept for call_result
	lastErr string

	// Library side.
	incoming [][]byte // encoded calls still to deliver
	current  []byte   // the call delivered (or kept after ERR_BUFFER)
	answers  []answer // what the guest returned, in order
	serves   int      // call_serve calls
	statuses []int32  // the status of each call_serve

	quiet bool // record no answers or statuses (they allocate)

	// Configuration.
	cfg   []byte
	reads int // config calls
}

type answer struct {
	status int32
	data   string
}

func newCallKernel(t *testing.T) *callKernel {
	k := &callKernel{funcs: map[string]func([]byte) ([]byte, error){}}
	saved, sc, ss, sf, sb, se, sconf, sread := host, callBuf, serveBuf, failBuf, bound, exports, config, configRead
	host, callBuf, serveBuf, failBuf, bound, exports, config, configRead = k, nil, nil, nil, nil, map[string]func([]byte) ([]byte, error){}, nil, false
	t.Cleanup(func() {
		host, callBuf, serveBuf, failBuf, bound, exports, config, configRead = saved, sc, ss, sf, sb, se, sconf, sread
	})
	return k
}

func (k *callKernel) callBind(lib, fn string) int32 {
	k.bindN++
	name := lib + "." + fn
	switch {
	case lib == "secret":
		k.lastErr = name + ": permission denied: not granted"
		return codeDenied
	case lib == "old":
		k.lastErr = "library old: no matching version for ^2 (available: [1.3.0])"
		return codeVersion
	case k.funcs[name] == nil:
		k.lastErr = "library " + lib + ": not found"
		return codeNotFound
	}
	k.binds = append(k.binds, name)
	return int32(len(k.binds) - 1)
}

func (k *callKernel) call(h int32, args, res []byte) int64 {
	k.pending = nil
	if h < 0 || int(h) >= len(k.binds) {
		k.lastErr = "call: invalid: no binding"
		return codeInvalid
	}
	k.runs++
	out, err := k.funcs[k.binds[h]](args)
	if err != nil {
		k.lastErr = k.binds[h] + ": " + err.Error()
		return codeFailed
	}
	if len(out) > len(res) {
		k.pending = append([]byte(nil), out...)
	} else {
		copy(res, out)
	}
	return int64(len(out))
}

func (k *callKernel) callResult(buf []byte) int32 {
	k.fetches++
	switch {
	case k.pending == nil:
		return codeNotFound
	case len(k.pending) > len(buf):
		return codeBuffer
	}
	n := copy(buf, k.pending)
	k.pending = nil
	return int32(n)
}

func (k *callKernel) callError(buf []byte) int32 {
	return int32(copy(buf, k.lastErr)) // truncated to the buffer
}

func (k *callKernel) callServe(status int32, res, buf []byte) int32 {
	k.serves++
	if !k.quiet {
		k.statuses = append(k.statuses, status)
	}
	if k.current != nil && status != serveNone {
		if !k.quiet {
			k.answers = append(k.answers, answer{status, string(res)})
		}
		k.current = nil
	}
	if k.current == nil {
		if len(k.incoming) == 0 {
			return codeClosed
		}
		k.current, k.incoming = k.incoming[0], k.incoming[1:]
	}
	if len(k.current) > len(buf) {
		return codeBuffer
	}
	return int32(copy(buf, k.current))
}

func (k *callKernel) callSize() int32 { return int32(len(k.current)) }

func (k *callKernel) config(buf []byte) int32 {
	k.reads++
	if len(k.cfg) <= len(buf) {
		copy(buf, k.cfg)
	}
	return int32(len(k.cfg))
}

// encodeCall builds a call as call_serve writes it.
func encodeCall(fn string, args []byte) []byte {
	b := make([]byte, 8, 8+len(fn)+len(args))
	binary.LittleEndian.PutUint32(b[0:], uint32(len(fn)))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(args)))
	return append(append(b, fn...), args...)
}

func TestDecodeCall(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		fn, args string
		ok       bool
	}{
		{"call", encodeCall("grayscale", []byte{1, 2, 3, 4}), "grayscale", "\x01\x02\x03\x04", true},
		{"no args", encodeCall("len", nil), "len", "", true},
		{"empty", encodeCall("", nil), "", "", true},
		{"trailing bytes", append(encodeCall("get", []byte(`{}`)), "junk"...), "get", "{}", true},
		{"short header", []byte{3, 0, 0, 0, 0, 0, 0}, "", "", false},
		{"nothing", nil, "", "", false},
		{"function past the end", encodeCall("get", nil)[:10], "", "", false},
		{"args past the end", encodeCall("get", []byte("abc"))[:13], "", "", false},
		{"huge lengths", []byte{255, 255, 255, 255, 255, 255, 255, 255, 'x'}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, args, err := decodeCall(tt.in)
			if !tt.ok {
				if err != ErrInvalid {
					t.Fatalf("decodeCall = %q, %q, %v; want ErrInvalid", fn, args, err)
				}
				return
			}
			if err != nil || string(fn) != tt.fn || string(args) != tt.args {
				t.Fatalf("decodeCall = %q, %q, %v; want %q, %q", fn, args, err, tt.fn, tt.args)
			}
			if len(args) > 0 && cap(args) != len(args) {
				t.Fatal("args may be appended to over the rest of the buffer")
			}
		})
	}
}

func TestCall(t *testing.T) {
	k := newCallKernel(t)
	k.funcs["vision.invert"] = func(b []byte) ([]byte, error) {
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = ^c
		}
		return out, nil
	}
	f, err := Bind("vision", "invert")
	if err != nil {
		t.Fatal(err)
	}
	if f.String() != "vision.invert" {
		t.Fatalf("String = %q", f)
	}
	got, err := f.Call([]byte{0, 255, 1})
	if err != nil || !bytes.Equal(got, []byte{255, 0, 254}) {
		t.Fatalf("Call = %v, %v", got, err)
	}
	got[0] = 7 // the caller owns the result
	again, _ := f.Call([]byte{9})
	if !bytes.Equal(again, []byte{246}) || got[0] != 7 {
		t.Fatalf("results share memory: %v %v", got, again)
	}
	var zero Func
	if _, err := zero.Call(nil); !errors.Is(err, ErrInvalid) || k.runs != 2 {
		t.Fatalf("zero Func: %v after %d runs", err, k.runs)
	}
	if _, err := zero.AppendCall(nil, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero Func: %v", err)
	}
	empty, err := f.Call(nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("empty result = %#v, %v; want a non-nil empty slice", empty, err)
	}
}

func TestCallLargeResult(t *testing.T) {
	k := newCallKernel(t)
	big := bytes.Repeat([]byte("r"), 3*initialCallBuffer+5)
	k.funcs["lib.big"] = func([]byte) ([]byte, error) { return big, nil }
	got, err := Call("lib", "big", nil)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Call: %d bytes, %v", len(got), err)
	}
	if k.runs != 1 || k.fetches != 1 {
		t.Fatalf("%d runs and %d call_result calls, want 1 and 1: a result must be fetched, never re-called", k.runs, k.fetches)
	}
	if len(callBuf) != initialCallBuffer {
		t.Fatalf("result buffer grew to %d bytes for a result the caller owns", len(callBuf))
	}
	// The same through CallJSON: the result does not fit either.
	k.funcs["lib.bigjson"] = func([]byte) ([]byte, error) {
		return []byte(`"` + strings.Repeat("j", 2*initialCallBuffer) + `"`), nil
	}
	var s string
	if err := CallJSON("lib", "bigjson", nil, &s); err != nil || len(s) != 2*initialCallBuffer {
		t.Fatalf("CallJSON: %d bytes, %v", len(s), err)
	}
}

// lostResult loses the kept result: call_result finds none.
type lostResult struct{ callKernel }

func (l *lostResult) callResult([]byte) int32 { return codeNotFound }

func TestCallResultLost(t *testing.T) {
	l := &lostResult{callKernel{funcs: map[string]func([]byte) ([]byte, error){}}}
	saved, sc := host, callBuf
	host, callBuf = l, nil
	defer func() { host, callBuf = saved, sc }()
	l.funcs["lib.big"] = func([]byte) ([]byte, error) { return make([]byte, 2*initialCallBuffer), nil }
	f, err := Bind("lib", "big")
	if err != nil {
		t.Fatal(err)
	}
	var ce *CallError
	if _, err := f.Call(nil); !errors.Is(err, ErrNotFound) || !errors.As(err, &ce) || !strings.Contains(ce.Message, "fetching its result") {
		t.Fatalf("lost result: %v", err)
	}
	dst := []byte("keep")
	if out, err := f.AppendCall(dst, nil); !errors.Is(err, ErrNotFound) || string(out) != "keep" {
		t.Fatalf("AppendCall of a lost result = %q, %v", out, err)
	}
}

func TestAppendCall(t *testing.T) {
	k := newCallKernel(t)
	k.funcs["lib.twice"] = func(b []byte) ([]byte, error) { return append(append([]byte{}, b...), b...), nil }
	k.funcs["lib.fail"] = func([]byte) ([]byte, error) { return nil, errors.New("no") }
	f, _ := Bind("lib", "twice")
	dst := make([]byte, 0, 64)
	dst = append(dst, "> "...)
	out, err := f.AppendCall(dst, []byte("ab"))
	if err != nil || string(out) != "> abab" || &out[0] != &dst[0] {
		t.Fatalf("AppendCall = %q, %v (in place: %v)", out, err, err == nil && &out[0] == &dst[0])
	}
	// Too big for the spare capacity: dst grows, the function runs once.
	runs := k.runs
	long := bytes.Repeat([]byte("x"), 100)
	out, err = f.AppendCall(dst, long)
	if err != nil || string(out) != "> "+string(long)+string(long) || k.runs != runs+1 {
		t.Fatalf("AppendCall grown = %d bytes, %v, %d runs", len(out), err, k.runs-runs)
	}
	g, _ := Bind("lib", "fail")
	if out, err := g.AppendCall(dst, nil); !errors.Is(err, ErrFailed) || string(out) != "> " {
		t.Fatalf("failed AppendCall = %q, %v; want dst unchanged", out, err)
	}
	answer := []byte("fixed")
	k.funcs["lib.fixed"] = func([]byte) ([]byte, error) { return answer, nil }
	h, _ := Bind("lib", "fixed")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := h.AppendCall(dst[:0], nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendCall into spare capacity allocates %.1f times, want 0", allocs)
	}
}

func TestCallErrors(t *testing.T) {
	k := newCallKernel(t)
	k.funcs["vision.grayscale"] = func(b []byte) ([]byte, error) {
		return nil, errors.New("want RGBA pixels, got 3 bytes")
	}
	tests := []struct {
		lib, fn string
		class   error
		msg     string
	}{
		{"vision", "grayscale", ErrFailed, "vision.grayscale: want RGBA pixels, got 3 bytes"},
		{"vision", "blur", ErrNotFound, "library vision: not found"},
		{"secret", "x", ErrDenied, "secret.x: permission denied: not granted"},
		{"old", "y", ErrVersion, "library old: no matching version for ^2 (available: [1.3.0])"},
	}
	for _, tt := range tests {
		_, err := Call(tt.lib, tt.fn, []byte{1, 2, 3})
		var ce *CallError
		if !errors.Is(err, tt.class) || !errors.As(err, &ce) {
			t.Fatalf("%s.%s: %v, want a *CallError wrapping %v", tt.lib, tt.fn, err, tt.class)
		}
		if ce.Library != tt.lib || ce.Function != tt.fn || ce.Message != tt.msg || err.Error() != tt.msg {
			t.Fatalf("%s.%s: %+v", tt.lib, tt.fn, ce)
		}
	}
	// Failed bindings are not cached: a library that appears later is found.
	binds := k.bindN
	k.funcs["vision.blur"] = func(b []byte) ([]byte, error) { return b, nil }
	if got, err := Call("vision", "blur", []byte("ok")); err != nil || string(got) != "ok" {
		t.Fatalf("after the library appeared: %q, %v", got, err)
	}
	// Successful ones are, even when the call then fails (grayscale).
	for range 3 {
		Call("vision", "blur", nil)
		Call("vision", "grayscale", nil)
	}
	if k.bindN != binds+1 {
		t.Fatalf("%d more call_bind calls, want 1 (blur's first)", k.bindN-binds)
	}
	if e := (&CallError{Library: "a", Function: "b", Err: ErrTimeout}).Error(); e != "a.b: orbital: timeout" {
		t.Fatalf("CallError without a message: %q", e)
	}
}

func TestCallErrorLongMessage(t *testing.T) {
	k := newCallKernel(t)
	msg := strings.Repeat("m", 3*initialCallError+1)
	k.funcs["lib.fail"] = func([]byte) ([]byte, error) { return nil, errors.New(msg) }
	_, err := Call("lib", "fail", nil)
	if err == nil || err.Error() != "lib.fail: "+msg {
		t.Fatalf("message of %d bytes read as %d", len("lib.fail: "+msg), len(err.Error()))
	}
}

func TestCallJSON(t *testing.T) {
	k := newCallKernel(t)
	k.funcs["kv.get"] = func(b []byte) ([]byte, error) {
		if string(b) != `{"key":"a"}` {
			return nil, errors.New("args " + string(b))
		}
		return []byte(`{"value":"1","found":true}`), nil
	}
	k.funcs["kv.len"] = func(b []byte) ([]byte, error) {
		if string(b) != "null" {
			return nil, errors.New("args " + string(b))
		}
		return []byte(`{"n":3}`), nil
	}
	k.funcs["kv.bad"] = func([]byte) ([]byte, error) { return []byte("not json"), nil }
	var got struct {
		Value string `json:"value"`
		Found bool   `json:"found"`
	}
	if err := CallJSON("kv", "get", map[string]string{"key": "a"}, &got); err != nil || got.Value != "1" || !got.Found {
		t.Fatalf("CallJSON = %+v, %v", got, err)
	}
	var n struct{ N int }
	if err := CallJSON("kv", "len", nil, &n); err != nil || n.N != 3 {
		t.Fatalf("CallJSON(nil) = %+v, %v", n, err)
	}
	if err := CallJSON("kv", "len", nil, nil); err != nil {
		t.Fatalf("CallJSON without out: %v", err)
	}
	var ce *CallError
	if err := CallJSON("kv", "bad", nil, &n); err == nil || errors.As(err, &ce) {
		t.Fatalf("undecodable result: %v, want a JSON error", err)
	}
	if err := CallJSON("kv", "get", func() {}, &got); err == nil || k.runs != 4 {
		t.Fatalf("unencodable arguments: %v after %d runs", err, k.runs)
	}
	if err := CallJSON("nope", "get", nil, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing library: %v", err)
	}
}

func TestDetachedCalls(t *testing.T) {
	saved, sb, sconf, sread := host, bound, config, configRead
	host, bound, config, configRead = detached{}, nil, nil, false
	defer func() { host, bound, config, configRead = saved, sb, sconf, sread }()
	if _, err := Bind("vision", "grayscale"); !errors.Is(err, ErrDenied) {
		t.Errorf("Bind: %v, want ErrDenied", err)
	}
	if _, err := Call("vision", "grayscale", nil); !errors.Is(err, ErrDenied) {
		t.Errorf("Call: %v, want ErrDenied", err)
	}
	if err := ServeCalls(); err != ErrDenied {
		t.Errorf("ServeCalls: %v, want ErrDenied", err)
	}
	if c, err := Config(); c != nil || err != nil {
		t.Errorf("Config = %v, %v; want none", c, err)
	}
	if s := ConfigString("k", "def"); s != "def" {
		t.Errorf("ConfigString = %q", s)
	}
}

func TestServeCalls(t *testing.T) {
	k := newCallKernel(t)
	Export("echo", func(b []byte) ([]byte, error) { return b, nil })
	Export("fail", func(b []byte) ([]byte, error) { return nil, errors.New("failed: " + string(b)) })
	Export("len", func(b []byte) ([]byte, error) { return []byte{byte(len(b))}, nil })
	k.incoming = [][]byte{
		encodeCall("echo", []byte("one")),
		encodeCall("fail", []byte("why")),
		encodeCall("nope", []byte("x")),
		encodeCall("len", make([]byte, 7)),
		[]byte{9, 0, 0, 0, 0, 0, 0, 0, 'e'}, // malformed
		encodeCall("echo", nil),
	}
	if err := ServeCalls(); err != nil {
		t.Fatal(err)
	}
	want := []answer{
		{serveOK, "one"},
		{serveFailed, "failed: why"},
		{serveFailed, "unknown function nope"},
		{serveOK, "\x07"},
		{serveFailed, "malformed call from the kernel"},
		{serveOK, ""},
	}
	if !equal(k.answers, want) {
		t.Fatalf("answers %q, want %q", k.answers, want)
	}
	if k.statuses[0] != serveNone {
		t.Fatalf("first call_serve with status %d, want -1", k.statuses[0])
	}
}

func TestServeCallsGrowsBuffer(t *testing.T) {
	k := newCallKernel(t)
	Export("sum", func(b []byte) ([]byte, error) {
		s := 0
		for _, c := range b {
			s += int(c)
		}
		return []byte{byte(s), byte(s >> 8), byte(s >> 16)}, nil
	})
	big := bytes.Repeat([]byte{1}, 3*initialServeBuffer)
	k.incoming = [][]byte{encodeCall("sum", []byte{2}), encodeCall("sum", big), encodeCall("sum", []byte{3})}
	if err := ServeCalls(); err != nil {
		t.Fatal(err)
	}
	n := len(big)
	want := []answer{{serveOK, "\x02\x00\x00"}, {serveOK, string([]byte{byte(n), byte(n >> 8), byte(n >> 16)})}, {serveOK, "\x03\x00\x00"}}
	if !equal(k.answers, want) {
		t.Fatalf("answers %q, want %q", k.answers, want)
	}
	// turns: first, answer 1 + ERR_BUFFER, retry, answer 2, answer 3 + closed.
	if want := []int32{serveNone, serveOK, serveNone, serveOK, serveOK}; !equal(k.statuses, want) {
		t.Fatalf("call_serve statuses %v, want %v", k.statuses, want)
	}
	if len(serveBuf) != 3*initialServeBuffer+8+3 {
		t.Fatalf("receive buffer of %d bytes", len(serveBuf))
	}
}

func TestServeCallsShrinksAfterGiant(t *testing.T) {
	k := newCallKernel(t)
	Export("head", func(b []byte) ([]byte, error) { return b[:4], nil }) // aliases the receive buffer
	giant := append([]byte("HEAD"), make([]byte, 2*keepBuffer)...)
	k.incoming = [][]byte{encodeCall("head", giant), encodeCall("head", []byte("next"))}
	if err := ServeCalls(); err != nil {
		t.Fatal(err)
	}
	if !equal(k.answers, []answer{{serveOK, "HEAD"}, {serveOK, "next"}}) {
		t.Fatalf("answers %q", k.answers)
	}
	if len(serveBuf) != initialServeBuffer {
		t.Fatalf("receive buffer kept %d bytes after a giant call", len(serveBuf))
	}
}

// stuckServe answers ERR_BUFFER for ever although call_size says it fits.
type stuckServe struct{ callKernel }

func (*stuckServe) callServe(int32, []byte, []byte) int32 { return codeBuffer }
func (*stuckServe) callSize() int32                       { return 10 }

func TestServeCallsGivesUpOnInconsistentKernel(t *testing.T) {
	saved, ss := host, serveBuf
	host, serveBuf = &stuckServe{}, nil
	defer func() { host, serveBuf = saved, ss }()
	if err := ServeCalls(); !errors.Is(err, Errno(codeBuffer)) {
		t.Fatalf("ServeCalls = %v, want Errno(-8)", err)
	}
}

func TestServeCallsAllocs(t *testing.T) {
	k := newCallKernel(t)
	Export("echo", func(b []byte) ([]byte, error) { return b, nil })
	Export("fail", func(b []byte) ([]byte, error) { return nil, ErrInvalid })
	calls := [][]byte{encodeCall("echo", bytes.Repeat([]byte("a"), 512)), encodeCall("fail", nil), encodeCall("echo", nil)}
	k.incoming = calls
	if err := ServeCalls(); err != nil { // warm up the buffers
		t.Fatal(err)
	}
	k.quiet = true
	allocs := testing.AllocsPerRun(100, func() {
		k.incoming = calls
		if err := ServeCalls(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ServeCalls allocates %.1f times per 3 calls, want 0", allocs)
	}
}

func TestServeCallsLetsPanicsCrash(t *testing.T) {
	k := newCallKernel(t)
	Export("boom", func([]byte) ([]byte, error) { panic("boom") })
	k.incoming = [][]byte{encodeCall("boom", nil)}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the handler's panic", r)
		}
		if len(k.answers) != 0 {
			t.Fatalf("answered %q", k.answers)
		}
	}()
	ServeCalls()
	t.Fatal("ServeCalls returned after a panic")
}

func TestExportPanics(t *testing.T) {
	newCallKernel(t)
	Export("x", func(b []byte) ([]byte, error) { return b, nil })
	for name, f := range map[string]func(){
		"empty name": func() { Export("", func(b []byte) ([]byte, error) { return b, nil }) },
		"nil":        func() { Export("y", nil) },
		"twice":      func() { Export("x", func(b []byte) ([]byte, error) { return b, nil }) },
		"nil JSON":   func() { ExportJSON[int, int]("z", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestExportJSON(t *testing.T) {
	k := newCallKernel(t)
	type in struct {
		Key string `json:"key"`
	}
	type out struct {
		N     int    `json:"n"`
		Upper string `json:"upper"`
	}
	ExportJSON("shout", func(a in) (out, error) {
		if a.Key == "bad" {
			return out{}, errors.New("bad key")
		}
		return out{len(a.Key), strings.ToUpper(a.Key)}, nil
	})
	k.incoming = [][]byte{
		encodeCall("shout", []byte(`{"key":"hi"}`)),
		encodeCall("shout", nil),
		encodeCall("shout", []byte(`{"key":`)),
		encodeCall("shout", []byte(`{"key":"bad"}`)),
	}
	if err := ServeCalls(); err != nil {
		t.Fatal(err)
	}
	if len(k.answers) != 4 {
		t.Fatalf("answers %q", k.answers)
	}
	if a := k.answers[0]; a != (answer{serveOK, `{"n":2,"upper":"HI"}`}) {
		t.Errorf("call: %q", a)
	}
	if a := k.answers[1]; a != (answer{serveOK, `{"n":0,"upper":""}`}) {
		t.Errorf("empty arguments: %q", a)
	}
	if a := k.answers[2]; a.status != serveFailed || !strings.HasPrefix(a.data, "invalid arguments: ") {
		t.Errorf("undecodable arguments: %q", a)
	}
	if a := k.answers[3]; a != (answer{serveFailed, "bad key"}) {
		t.Errorf("error: %q", a)
	}
}

func TestConfig(t *testing.T) {
	k := newCallKernel(t)
	k.cfg = []byte(`{"f":1.5,"greeting":"hi","n":3,"nested":{"x":1},"none":null,"on":true}`)
	for key, want := range map[string]string{
		"greeting": "hi", "n": "3", "f": "1.5", "on": "true",
		"nested": "def", "none": "def", "missing": "def",
	} {
		if got := ConfigString(key, "def"); got != want {
			t.Errorf("ConfigString(%q) = %q, want %q", key, got, want)
		}
	}
	c, err := Config()
	if err != nil || c["greeting"] != "hi" || c["n"] != 3.0 || c["on"] != true || len(c) != 6 {
		t.Fatalf("Config = %v, %v", c, err)
	}
	c["greeting"] = "changed" // a copy
	if ConfigString("greeting", "") != "hi" {
		t.Fatal("Config returned the cached map")
	}
	if k.reads != 2 { // the size, then the bytes; cached afterwards
		t.Fatalf("%d config calls, want 2", k.reads)
	}
}

func TestConfigNone(t *testing.T) {
	k := newCallKernel(t)
	if c, err := Config(); c != nil || err != nil {
		t.Fatalf("Config = %v, %v; want nil, nil", c, err)
	}
	if got := ConfigString("greeting", "hello"); got != "hello" {
		t.Fatalf("ConfigString = %q", got)
	}
	if k.reads != 1 {
		t.Fatalf("%d config calls, want 1", k.reads)
	}
}

func TestConfigInvalid(t *testing.T) {
	k := newCallKernel(t)
	k.cfg = []byte(`[1,2]`)
	if _, err := Config(); err == nil {
		t.Fatal("Config of a JSON array: no error")
	}
	if got := ConfigString("a", "def"); got != "def" {
		t.Fatalf("ConfigString = %q", got)
	}
	k.cfg = []byte(`{"a":"fixed"}`) // not cached after a failure
	if got := ConfigString("a", "def"); got != "fixed" {
		t.Fatalf("ConfigString after a failed read = %q", got)
	}
}
