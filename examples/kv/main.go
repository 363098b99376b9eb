// Command kv is a stateful library: an in-memory key-value cache of
// strings, kept for as long as the library runs (a restart empties it).
// Being stateful it runs as one instance that serves calls one at a time,
// so its map needs no lock.
//
//	put     {key, value} → {replaced}
//	get     {key}        → {value, found}
//	delete  {key}        → {found}
//	len     null         → {n}
//
// It holds at most maxKeys keys of at most maxKey bytes, with values of at
// most maxValue bytes; a put beyond those fails.
package main

import (
	"errors"
	"fmt"
	"os"

	orbital "github.com/orbitalfoundation/orbital/sdk"
)

// Limits of the cache.
const (
	maxKeys  = 10000
	maxKey   = 256
	maxValue = 64 << 10
)

type (
	putArgs struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	putResult struct {
		Replaced bool `json:"replaced"`
	}
	keyArgs struct {
		Key string `json:"key"`
	}
	getResult struct {
		Value string `json:"value"`
		Found bool   `json:"found"`
	}
	deleteResult struct {
		Found bool `json:"found"`
	}
	lenResult struct {
		N int `json:"n"`
	}
)

// store is the cache.
type store map[string]string

func (s store) put(a putArgs) (putResult, error) {
	switch {
	case a.Key == "":
		return putResult{}, errors.New("empty key")
	case len(a.Key) > maxKey:
		return putResult{}, fmt.Errorf("key of %d bytes (at most %d)", len(a.Key), maxKey)
	case len(a.Value) > maxValue:
		return putResult{}, fmt.Errorf("value of %d bytes (at most %d)", len(a.Value), maxValue)
	}
	_, replaced := s[a.Key]
	if !replaced && len(s) >= maxKeys {
		return putResult{}, fmt.Errorf("full: %d keys", len(s))
	}
	s[a.Key] = a.Value
	return putResult{Replaced: replaced}, nil
}

func (s store) get(a keyArgs) (getResult, error) {
	v, ok := s[a.Key]
	return getResult{Value: v, Found: ok}, nil
}

func (s store) delete(a keyArgs) (deleteResult, error) {
	_, ok := s[a.Key]
	delete(s, a.Key)
	return deleteResult{Found: ok}, nil
}

func (s store) len(any) (lenResult, error) { return lenResult{N: len(s)}, nil }

func main() {
	s := store{}
	orbital.ExportJSON("put", s.put)
	orbital.ExportJSON("get", s.get)
	orbital.ExportJSON("delete", s.delete)
	orbital.ExportJSON("len", s.len)
	if err := orbital.ServeCalls(); err != nil { // ErrDenied: not run as a library
		orbital.Log(orbital.LevelError, "kv: "+err.Error())
		os.Exit(1)
	}
}
