package bus

import (
	"hash/maphash"
	"sync"
)

// table is a concurrent map from names, IDs or inbox tokens to endpoints,
// split into shards with their own read-write lock, so lookups on the send
// and reply paths neither box keys (as sync.Map does) nor contend on one
// lock. Writes (Register, Unregister) are rare and serialized by Bus.mu.
type table[K comparable] struct {
	seed   maphash.Seed
	shards [tableShards]tableShard[K]
}

const tableShards = 64

type tableShard[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*Endpoint
	_  [64 - 32]byte // keep shards on separate cache lines
}

func newTable[K comparable]() *table[K] {
	t := &table[K]{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[K]*Endpoint)
	}
	return t
}

func (t *table[K]) shard(k K) *tableShard[K] {
	return &t.shards[maphash.Comparable(t.seed, k)%tableShards]
}

func (t *table[K]) load(k K) *Endpoint {
	s := t.shard(k)
	s.mu.RLock()
	e := s.m[k]
	s.mu.RUnlock()
	return e
}

func (t *table[K]) store(k K, e *Endpoint) {
	s := t.shard(k)
	s.mu.Lock()
	s.m[k] = e
	s.mu.Unlock()
}

// remove deletes k if it maps to e.
func (t *table[K]) remove(k K, e *Endpoint) {
	s := t.shard(k)
	s.mu.Lock()
	if s.m[k] == e {
		delete(s.m, k)
	}
	s.mu.Unlock()
}

// all returns every endpoint.
func (t *table[K]) all() []*Endpoint {
	var out []*Endpoint
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, e := range s.m {
			out = append(out, e)
		}
		s.mu.RUnlock()
	}
	return out
}
