package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 10000)
	msgs := []Msg{
		{Type: TypeHello, Data: []byte(`{"device":"camera"}`)},
		{Type: TypeStart, Data: []byte(`{}`)},
		{Type: TypePublish, Subject: "camera.front.frames", Header: []byte(`{"seq":1}`), Data: []byte("px")},
		{Type: TypePublish, Subject: "camera.front.frames", Header: []byte{}, Data: big},
		{Type: TypePublish, Subject: "camera.gap", Header: []byte{}, Data: []byte{}},
		{Type: TypeCall, ID: 42, Timeout: 1500, Fn: "snapshot", Data: []byte("args")},
		{Type: TypeResult, ID: 42, Status: StatusError, Data: []byte("no device")},
		{Type: TypeCancel, ID: 42},
		{Type: TypePing, ID: 9},
		{Type: TypePong, ID: 9},
		{Type: TypeLog, Level: 2, Data: []byte("warned")},
	}
	var conn bytes.Buffer
	w := NewWriter(&conn)
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&conn, 0)
	for i, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want.Data == nil {
			want.Data = got.Data // nil and empty are one on the wire
		}
		if len(got.Data) == 0 && len(want.Data) == 0 {
			got.Data, want.Data = nil, nil
		}
		if len(got.Header) == 0 && len(want.Header) == 0 {
			got.Header, want.Header = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d = %+v, want %+v", i, got, want)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("at the end: %v, want EOF", err)
	}
}

func TestMalformed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"zero length", []byte{0, 0, 0, 0}},
		{"too long", []byte{0x7f, 0, 0, 0, 3}},
		{"unknown type", []byte{0, 0, 0, 1, 99}},
		{"publish no subject", []byte{0, 0, 0, 3, TypePublish, 0, 0}},
		{"publish header overruns", []byte{0, 0, 0, 9, TypePublish, 0, 1, 'a', 0, 0, 0, 9, 'x'}},
		{"call short", []byte{0, 0, 0, 3, TypeCall, 1, 2}},
		{"call fn overruns", append([]byte{0, 0, 0, 15, TypeCall}, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 9)},
		{"result bad status", append([]byte{0, 0, 0, 10, TypeResult}, 0, 0, 0, 0, 0, 0, 0, 1, 7)},
		{"ping short", []byte{0, 0, 0, 2, TypePing, 1}},
		{"log bad level", []byte{0, 0, 0, 2, TypeLog, 9}},
	} {
		_, err := NewReader(bytes.NewReader(tt.frame), 1024).Read()
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tt.name, err)
		}
	}
	if _, err := NewReader(bytes.NewReader([]byte{0, 0, 0, 9, TypeLog, 1}), 0).Read(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated frame: %v", err)
	}
}

// FuzzDecode: no input panics the decoder, and what decodes re-encodes
// to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, m := range []Msg{
		{Type: TypePublish, Subject: "a.b", Header: []byte("h"), Data: []byte("d")},
		{Type: TypeCall, ID: 1, Timeout: 2, Fn: "f", Data: []byte("x")},
		{Type: TypeResult, ID: 1, Data: []byte("r")},
		{Type: TypePing, ID: 3}, {Type: TypeLog, Level: 1, Data: []byte("l")},
	} {
		b, _ := Append(nil, m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 1<<16)
		for {
			m, err := r.Read()
			if err != nil {
				return
			}
			if _, err := Append(nil, m); err != nil && m.Type != TypePublish {
				t.Fatalf("decoded %+v does not encode: %v", m, err)
			}
		}
	})
}
