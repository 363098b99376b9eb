// Package wire is the protocol between the node and an out-of-process
// driver, spoken on the Unix socket the node hands the driver as file
// descriptor 3 (docs/DRIVERS.md). Every message is one frame:
//
//	u32  length   big-endian: bytes that follow (1 … the reader's limit)
//	u8   type
//	…    body     by type, integers big-endian:
//
//	1 HELLO    driver→node  JSON Hello
//	2 START    node→driver  JSON Start
//	3 PUBLISH  driver→node  u16 subject length, subject, u32 header length,
//	                        header, frame (the rest; empty: none)
//	4 CALL     node→driver  u64 id, u32 timeout ms, u16 function length,
//	                        function, args (the rest)
//	5 RESULT   driver→node  u64 id, u8 status (0 ok, 1 error), result or
//	                        error message (the rest)
//	6 CANCEL   node→driver  u64 id
//	7 PING     node→driver  u64 nonce
//	8 PONG     driver→node  u64 nonce
//	9 LOG      driver→node  u8 level (0 debug, 1 info, 2 warn, 3 error),
//	                        message (the rest)
//
// The node starts: it sends START, the driver answers HELLO, then either
// side sends when it likes. A driver answers every PING with a PONG within
// the node's hang timeout. Anything malformed ends the connection.
package wire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Protocol is the protocol version in Hello and Start.
const Protocol = 1

// Message types.
const (
	TypeHello   byte = 1
	TypeStart   byte = 2
	TypePublish byte = 3
	TypeCall    byte = 4
	TypeResult  byte = 5
	TypeCancel  byte = 6
	TypePing    byte = 7
	TypePong    byte = 8
	TypeLog     byte = 9
)

// DefaultMaxFrame bounds a frame's length when a Reader is given none.
const DefaultMaxFrame = 64 << 20

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed driver message")

// Hello is the driver's first message.
type Hello struct {
	Device   string `json:"device"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
}

// Start is the node's first message.
type Start struct {
	Device    string          `json:"device"`
	Config    json.RawMessage `json:"config"`
	Resources []string        `json:"resources"`
	Protocol  int             `json:"protocol"`
}

// Msg is one decoded message; which fields are set depends on Type.
type Msg struct {
	Type    byte
	ID      uint64 // CALL, RESULT, CANCEL; the nonce of PING and PONG
	Subject string // PUBLISH
	Header  []byte // PUBLISH
	Data    []byte // PUBLISH frame, CALL args, RESULT payload, LOG message, HELLO/START JSON
	Fn      string // CALL
	Timeout uint32 // CALL, milliseconds (0: none)
	Status  byte   // RESULT: 0 ok, 1 error
	Level   byte   // LOG
}

// Status values of a RESULT.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// Limits on message fields.
const (
	MaxSubject = 1024
	MaxFn      = 256
)

// Append appends m's frame to buf.
func Append(buf []byte, m Msg) ([]byte, error) {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, m.Type)
	be := binary.BigEndian
	switch m.Type {
	case TypeHello, TypeStart:
		buf = append(buf, m.Data...)
	case TypePublish:
		if len(m.Subject) > MaxSubject {
			return nil, fmt.Errorf("wire: subject of %d bytes exceeds %d", len(m.Subject), MaxSubject)
		}
		buf = be.AppendUint16(buf, uint16(len(m.Subject)))
		buf = append(buf, m.Subject...)
		buf = be.AppendUint32(buf, uint32(len(m.Header)))
		buf = append(buf, m.Header...)
		buf = append(buf, m.Data...)
	case TypeCall:
		if len(m.Fn) > MaxFn {
			return nil, fmt.Errorf("wire: function name of %d bytes exceeds %d", len(m.Fn), MaxFn)
		}
		buf = be.AppendUint64(buf, m.ID)
		buf = be.AppendUint32(buf, m.Timeout)
		buf = be.AppendUint16(buf, uint16(len(m.Fn)))
		buf = append(buf, m.Fn...)
		buf = append(buf, m.Data...)
	case TypeResult:
		buf = be.AppendUint64(buf, m.ID)
		buf = append(buf, m.Status)
		buf = append(buf, m.Data...)
	case TypeCancel, TypePing, TypePong:
		buf = be.AppendUint64(buf, m.ID)
	case TypeLog:
		buf = append(buf, m.Level)
		buf = append(buf, m.Data...)
	default:
		return nil, fmt.Errorf("wire: unknown message type %d", m.Type)
	}
	n := len(buf) - start - 4
	if uint64(n) > 0xffffffff {
		return nil, fmt.Errorf("wire: message of %d bytes is too large", n)
	}
	be.PutUint32(buf[start:], uint32(n))
	return buf, nil
}

// Decode decodes the body of a message of type typ. The fields of the
// result alias body.
func Decode(typ byte, body []byte) (Msg, error) {
	m := Msg{Type: typ}
	be := binary.BigEndian
	short := func(what string) (Msg, error) {
		return Msg{}, fmt.Errorf("%w: type %d: %d bytes, too short for its %s", ErrMalformed, typ, len(body), what)
	}
	switch typ {
	case TypeHello, TypeStart:
		m.Data = body
	case TypePublish:
		if len(body) < 2 {
			return short("subject length")
		}
		sl := int(be.Uint16(body))
		body = body[2:]
		if sl == 0 || sl > MaxSubject {
			return Msg{}, fmt.Errorf("%w: publish: subject length %d (1 to %d)", ErrMalformed, sl, MaxSubject)
		}
		if len(body) < sl+4 {
			return short("subject and header length")
		}
		m.Subject = string(body[:sl])
		body = body[sl:]
		hl := be.Uint32(body)
		body = body[4:]
		if uint64(hl) > uint64(len(body)) {
			return Msg{}, fmt.Errorf("%w: publish: header of %d bytes, %d left", ErrMalformed, hl, len(body))
		}
		m.Header, m.Data = body[:hl:hl], body[hl:]
	case TypeCall:
		if len(body) < 14 {
			return short("id, timeout and function length")
		}
		m.ID, m.Timeout = be.Uint64(body), be.Uint32(body[8:])
		fl := int(be.Uint16(body[12:]))
		body = body[14:]
		if fl == 0 || fl > MaxFn || fl > len(body) {
			return Msg{}, fmt.Errorf("%w: call: function length %d (1 to %d, %d bytes left)", ErrMalformed, fl, MaxFn, len(body))
		}
		m.Fn, m.Data = string(body[:fl]), body[fl:]
	case TypeResult:
		if len(body) < 9 {
			return short("id and status")
		}
		m.ID, m.Status, m.Data = be.Uint64(body), body[8], body[9:]
		if m.Status > StatusError {
			return Msg{}, fmt.Errorf("%w: result: status %d", ErrMalformed, m.Status)
		}
	case TypeCancel, TypePing, TypePong:
		if len(body) != 8 {
			return Msg{}, fmt.Errorf("%w: type %d: body of %d bytes, want 8", ErrMalformed, typ, len(body))
		}
		m.ID = be.Uint64(body)
	case TypeLog:
		if len(body) < 1 || body[0] > 3 {
			return Msg{}, fmt.Errorf("%w: log: missing or bad level", ErrMalformed)
		}
		m.Level, m.Data = body[0], body[1:]
	default:
		return Msg{}, fmt.Errorf("%w: unknown message type %d", ErrMalformed, typ)
	}
	return m, nil
}

// Reader reads messages from a connection.
type Reader struct {
	r   *bufio.Reader
	max int
	hdr [5]byte
}

// NewReader reads from r, refusing frames longer than max bytes (0:
// DefaultMaxFrame).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Read reads the next message; its byte fields are freshly allocated
// (a frame may be kept). Errors: io.EOF at a clean end, ErrMalformed.
func (r *Reader) Read() (Msg, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:4]); err != nil {
		return Msg{}, err
	}
	n := binary.BigEndian.Uint32(r.hdr[:4])
	if n == 0 || uint64(n) > uint64(r.max) {
		return Msg{}, fmt.Errorf("%w: frame length %d (1 to %d)", ErrMalformed, n, r.max)
	}
	typ, err := r.r.ReadByte()
	if err != nil {
		return Msg{}, unexpected(err)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return Msg{}, unexpected(err)
	}
	return Decode(typ, body)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes whole messages, safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes m as one frame.
func (w *Writer) Write(m Msg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m.Type == TypePublish && len(m.Data) > 4096 {
		// A large frame goes out in two writes, its payload uncopied.
		payload := m.Data
		m.Data = nil
		buf, err := Append(w.buf[:0], m)
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint32(buf, uint32(len(buf)-4+len(payload)))
		w.buf = buf
		if _, err := w.w.Write(buf); err != nil {
			return err
		}
		_, err = w.w.Write(payload)
		return err
	}
	buf, err := Append(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = buf
	_, err = w.w.Write(buf)
	return err
}
