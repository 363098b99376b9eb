package bus

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Quota bounds the bytes of live blobs one owner (a process) holds. It is
// safe for concurrent use; a nil *Quota means unlimited.
type Quota struct {
	max  int64
	used atomic.Int64
}

// NewQuota returns a quota of maxBytes (≤ 0 means unlimited, but counted).
func NewQuota(maxBytes int64) *Quota { return &Quota{max: maxBytes} }

// Used returns the bytes currently charged.
func (q *Quota) Used() int64 {
	if q == nil {
		return 0
	}
	return q.used.Load()
}

// Max returns the limit (≤ 0: unlimited).
func (q *Quota) Max() int64 {
	if q == nil {
		return 0
	}
	return q.max
}

func (q *Quota) charge(n int64) bool {
	if q == nil {
		return true
	}
	for {
		u := q.used.Load()
		if q.max > 0 && u+n > q.max {
			return false
		}
		if q.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (q *Quota) refund(n int64) {
	if q != nil {
		q.used.Add(-n)
	}
}

// BlobStore holds the live blobs of a node, by ID. It is safe for
// concurrent use.
type BlobStore struct {
	mu    sync.Mutex
	blobs map[uint64]*Blob
	next  uint64
	bytes int64
	// OnDoubleRelease, if set, is called (without locks held) when a blob
	// is released more often than it was retained; the extra release is
	// otherwise ignored. Set it before the store is used.
	OnDoubleRelease func(*Blob)
}

// NewBlobStore returns an empty store.
func NewBlobStore() *BlobStore {
	return &BlobStore{blobs: make(map[uint64]*Blob)}
}

// Blob is a host-owned, immutable, reference-counted byte buffer. Messages
// carry it by handle, so a 4 MiB frame reaches three subscribers without a
// copy: native consumers read Bytes directly, the kernel copies ranges into
// a guest's memory only when the guest asks (ReadAt).
//
// Reference counting: New returns a blob holding one reference, the
// creator's. Each holder calls Release exactly once when done; the bus
// retains one reference per delivered copy of a message (the receiver
// releases it after handling) and releases the references of messages it
// drops. The last Release frees the blob: it leaves the store, its bytes
// are dropped and its size is refunded to the owner's quota.
type Blob struct {
	id    uint64
	owner string
	size  int
	refs  atomic.Int64
	// data points at the first byte (size bytes); nil once freed, so the
	// bytes can be collected even if a stale *Blob lingers. A pointer, not
	// a slice, so that New makes one allocation, not two.
	data  atomic.Pointer[byte]
	quota *Quota
	store *BlobStore
}

// New creates a blob of data owned by owner, charging len(data) to quota
// (nil = unlimited). The blob takes ownership of data without copying: the
// caller must not modify it afterwards (the kernel copies once, when it
// reads guest memory). The error wraps ErrQuota (api.ErrLimit) when the
// quota would be exceeded.
func (s *BlobStore) New(owner string, data []byte, quota *Quota) (*Blob, error) {
	n := int64(len(data))
	if !quota.charge(n) {
		return nil, fmt.Errorf("%w: %s holds %d of %d bytes, blob needs %d", ErrQuota, owner, quota.Used(), quota.max, n)
	}
	b := &Blob{owner: owner, size: len(data), quota: quota, store: s}
	b.refs.Store(1)
	b.data.Store(unsafe.SliceData(data))
	s.mu.Lock()
	s.next++
	b.id = s.next
	s.blobs[b.id] = b
	s.bytes += n
	s.mu.Unlock()
	return b, nil
}

// Get returns the live blob with the given ID. It does not add a
// reference: the caller must already hold one (for example through a
// message it received) or call Retain and check the result.
func (s *BlobStore) Get(id uint64) (*Blob, bool) {
	s.mu.Lock()
	b, ok := s.blobs[id]
	s.mu.Unlock()
	return b, ok
}

// Stats returns the number of live blobs and their total size.
func (s *BlobStore) Stats() (count int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.blobs), s.bytes
}

// ID returns the blob's handle, unique within its store (never 0).
func (b *Blob) ID() uint64 { return b.id }

// Owner returns the name the blob is charged to.
func (b *Blob) Owner() string { return b.owner }

// Len returns the blob's size in bytes (also after it was freed).
func (b *Blob) Len() int { return b.size }

// Refs returns the current number of references (0 once freed).
func (b *Blob) Refs() int64 { return b.refs.Load() }

// Bytes returns the blob's contents without copying. The slice is
// read-only by contract: writing to it corrupts every holder's view. It
// returns nil once the blob is freed; a holder of a reference never sees
// that.
func (b *Blob) Bytes() []byte {
	if p := b.data.Load(); p != nil {
		return unsafe.Slice(p, b.size) // len = cap = size
	}
	return nil
}

// ReadAt copies the bytes at off into p (io.ReaderAt semantics: io.EOF when
// fewer than len(p) bytes remain). It fails with ErrClosed after the blob
// is freed.
func (b *Blob) ReadAt(p []byte, off int64) (int, error) {
	if b.refs.Load() <= 0 {
		return 0, fmt.Errorf("blob %d: %w", b.id, ErrClosed)
	}
	d := b.Bytes()
	if off < 0 {
		return 0, fmt.Errorf("%w: blob %d: negative offset", ErrInvalid, b.id)
	}
	if off >= int64(len(d)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, d[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Retain adds a reference and returns b, or returns nil if b was already
// freed (a freed blob cannot be revived).
func (b *Blob) Retain() *Blob {
	if b.tryRetain() {
		return b
	}
	return nil
}

func (b *Blob) tryRetain() bool {
	for {
		r := b.refs.Load()
		if r <= 0 {
			return false
		}
		if b.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// Release drops one reference; the last one frees the blob. Releasing a
// blob that is already freed is a bug in the caller: it is detected, has no
// effect, calls the store's OnDoubleRelease hook and returns an error
// wrapping ErrClosed. It never panics.
func (b *Blob) Release() error {
	for {
		r := b.refs.Load()
		if r <= 0 {
			if b.store != nil && b.store.OnDoubleRelease != nil {
				b.store.OnDoubleRelease(b)
			}
			return fmt.Errorf("blob %d released more often than retained: %w", b.id, ErrClosed)
		}
		if b.refs.CompareAndSwap(r, r-1) {
			if r == 1 {
				b.free()
			}
			return nil
		}
	}
}

func (b *Blob) free() {
	b.data.Store(nil)
	b.quota.refund(int64(b.size))
	if s := b.store; s != nil {
		s.mu.Lock()
		delete(s.blobs, b.id)
		s.bytes -= int64(b.size)
		s.mu.Unlock()
	}
}
