package pack

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"testing"
)

// ---- hand-assembled wasm: no toolchain is needed at test time ---------------

func uleb(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func wname(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func sec(id byte, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func custom(name string, payload []byte) []byte { return sec(0, wname(name), payload) }

const header = "\x00asm\x01\x00\x00\x00"

// module is a command whose _start returns at once, with a "name" custom
// section (code offset of its only instruction: see codeByte).
func module() []byte {
	return bytes.Join([][]byte{
		[]byte(header),
		sec(1, []byte{0x01, 0x60, 0x00, 0x00}),
		sec(3, []byte{0x01, 0x00}),
		sec(7, []byte{0x01}, wname("_start"), []byte{0x00, 0x00}),
		sec(10, []byte{0x01, 0x02, 0x00, 0x0b}),
		custom("producers", []byte("orbital test")),
	}, nil)
}

// codeByte returns the offset of the code section's "end" opcode in data.
func codeByte(t *testing.T, data []byte) int {
	t.Helper()
	i := bytes.Index(data, []byte{0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b})
	if i < 0 {
		t.Fatal("code section not found")
	}
	return i + 5
}

const helloTOML = `name = "example.com/hello"
version = "1.0.0"
kind = "app"
description = "says hello"
`

const visionTOML = `name = "vision"
version = "1.2.3"
kind = "app"
`

// packed packs module() with toml.
func packed(t testing.TB, toml string) []byte {
	t.Helper()
	out, _, err := Pack(module(), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fixedKey is a deterministic key named name (seeded by seed).
func fixedKey(name string, seed byte) *Key {
	return &Key{Name: name, Private: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))}
}

// mustSign signs pkg with key.
func mustSign(t testing.TB, pkg []byte, key *Key) []byte {
	t.Helper()
	out, err := Sign(pkg, key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustOpen opens data.
func mustOpen(t testing.TB, data []byte) *Package {
	t.Helper()
	p, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flip returns a copy of data with the byte at i changed.
func flip(data []byte, i int) []byte {
	out := bytes.Clone(data)
	out[i] ^= 0x01
	return out
}

// replaceOnce returns data with the first old replaced by new (same length
// when the section sizes must stay right).
func replaceOnce(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%q not found", old)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}
