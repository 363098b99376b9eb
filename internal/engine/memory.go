package engine

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memory is a guest's linear memory with a per-process ceiling. wazero's
// own limit is per runtime; this allocator enforces each process's limit,
// reports its current size without locking, and counts refused grows (the
// guest sees memory.grow return -1; the host sees DeniedGrows).
type memory struct {
	limit uint64 // bytes
	buf   []byte
	// reserved is what the process's surfaces take from the same limit
	// (raster.Budget): linear memory and surfaces share it.
	reserved atomic.Int64
	size     atomic.Uint64
	denied   atomic.Uint64
}

var _ experimental.LinearMemory = (*memory)(nil)

// Reallocate grows the buffer to size bytes, or returns nil past the limit.
// Wasm memories only grow, so bytes past len were never written and are zero.
func (m *memory) Reallocate(size uint64) []byte {
	if size+uint64(m.reserved.Load()) > m.limit {
		m.denied.Add(1)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
	} else {
		// Amortise growth, never reserving past the limit.
		c := min(max(size, 2*uint64(cap(m.buf))), m.limit)
		nb := make([]byte, size, c)
		copy(nb, m.buf)
		m.buf = nb
	}
	m.size.Store(size)
	return m.buf
}

// Free drops the buffer; the GC reclaims it once the guest is gone.
func (m *memory) Free() {
	m.buf = nil
	m.size.Store(0)
}

// Reserve implements raster.Budget: n bytes of the limit for surfaces.
func (m *memory) Reserve(n int64) bool {
	for {
		r := m.reserved.Load()
		if uint64(r+n)+m.size.Load() > m.limit {
			return false
		}
		if m.reserved.CompareAndSwap(r, r+n) {
			return true
		}
	}
}

// Release implements raster.Budget.
func (m *memory) Release(n int64) { m.reserved.Add(-n) }
