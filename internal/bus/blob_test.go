package bus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbitalfoundation/orbital/api"
)

// TestBlobSharedByThree: a producer publishes one blob to three
// subscribers; it is freed — store entry gone, quota refunded, bytes
// dropped — exactly when the last of the four holders releases.
func TestBlobSharedByThree(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	store := NewBlobStore()
	quota := NewQuota(1 << 20)
	cam := register(t, b, "camera", 1, perms([]string{"frames"}, nil), MailboxConfig{})
	var readers []*Endpoint
	for i, name := range []string{"r1", "r2", "r3"} {
		r := register(t, b, name, uint64(10+i), perms(nil, []string{"frames"}), MailboxConfig{})
		subscribe(t, r, "frames", "")
		readers = append(readers, r)
	}
	frame := bytes.Repeat([]byte{0xab}, 512<<10)
	blob, err := store.New("camera", frame, quota)
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Publish("frames", Message{Blob: blob}); err != nil {
		t.Fatal(err)
	}
	if blob.Refs() != 4 {
		t.Fatalf("refs = %d after fan-out to 3, want 4", blob.Refs())
	}
	if err := blob.Release(); err != nil { // the producer is done with it
		t.Fatal(err)
	}
	live := func() bool {
		n, bytes := store.Stats()
		return n == 1 && bytes == int64(len(frame)) && quota.Used() == int64(len(frame)) && blob.Bytes() != nil
	}
	for i, r := range readers {
		m, ok := r.Mailbox().TryRecv()
		if !ok || m.Blob != blob {
			t.Fatalf("%s: no blob", r.Name())
		}
		// Zero copy: every holder sees the very same bytes.
		if got := m.Blob.Bytes(); &got[0] != &frame[0] {
			t.Fatalf("%s: blob bytes were copied", r.Name())
		}
		if got, ok := store.Get(blob.ID()); !ok || got != blob {
			t.Fatalf("store lost the blob while held")
		}
		if !live() {
			t.Fatalf("blob freed early, before reader %d released", i)
		}
		if err := m.Blob.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if n, bytes := store.Stats(); n != 0 || bytes != 0 {
		t.Fatalf("store still holds %d blobs, %d bytes", n, bytes)
	}
	if quota.Used() != 0 || blob.Bytes() != nil || blob.Refs() != 0 {
		t.Fatalf("not freed: quota %d, refs %d", quota.Used(), blob.Refs())
	}
	if _, ok := store.Get(blob.ID()); ok {
		t.Fatal("freed blob still in store")
	}
	if _, err := blob.ReadAt(make([]byte, 1), 0); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("ReadAt after free: %v", err)
	}
	// A freed blob can be neither revived nor published.
	if blob.Retain() != nil {
		t.Fatal("Retain revived a freed blob")
	}
	if err := cam.Publish("frames", Message{Blob: blob}); !errors.Is(err, api.ErrClosed) {
		t.Fatalf("publishing a freed blob: %v", err)
	}
}

func TestBlobDoubleRelease(t *testing.T) {
	store := NewBlobStore()
	var reported atomic.Int32
	store.OnDoubleRelease = func(*Blob) { reported.Add(1) }
	q := NewQuota(100)
	b, _ := store.New("o", make([]byte, 60), q)
	other, _ := store.New("o", make([]byte, 30), q)
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	err := b.Release()
	if !errors.Is(err, api.ErrClosed) || reported.Load() != 1 {
		t.Fatalf("double release: err %v, reported %d", err, reported.Load())
	}
	// The bogus release must not free or refund anything else.
	if b.Refs() != 0 || q.Used() != 30 || other.Bytes() == nil {
		t.Fatalf("refs %d, quota %d", b.Refs(), q.Used())
	}
	if n, _ := store.Stats(); n != 1 {
		t.Fatalf("store has %d blobs", n)
	}
}

func TestBlobQuota(t *testing.T) {
	store := NewBlobStore()
	q := NewQuota(100)
	a, err := store.New("p", make([]byte, 70), q)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.New("p", make([]byte, 31), q); !errors.Is(err, ErrQuota) || !errors.Is(err, api.ErrLimit) {
		t.Fatalf("over quota: %v", err)
	}
	if q.Used() != 70 {
		t.Fatalf("failed New charged the quota: %d", q.Used())
	}
	c, err := store.New("p", make([]byte, 30), q)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Release()
	if q.Used() != 30 {
		t.Fatalf("quota after release = %d", q.Used())
	}
	_ = c.Release()
	// Unlimited quotas and nil quotas work too.
	if _, err := store.New("p", make([]byte, 1<<20), NewQuota(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.New("p", nil, nil); err != nil {
		t.Fatal(err)
	}
	// Concurrent creators never overshoot.
	q = NewQuota(1000)
	var wg sync.WaitGroup
	var made atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := store.New("p", make([]byte, 100), q); err == nil {
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	if made.Load() != 10 || q.Used() != 1000 {
		t.Fatalf("made %d blobs, quota %d", made.Load(), q.Used())
	}
}

func TestBlobReadAt(t *testing.T) {
	store := NewBlobStore()
	b, _ := store.New("o", []byte("hello world"), nil)
	tests := []struct {
		off  int64
		n    int
		want string
		err  error
	}{
		{0, 5, "hello", nil},
		{6, 5, "world", nil},
		{6, 10, "world", io.EOF},
		{11, 1, "", io.EOF},
		{11, 0, "", nil},
		{99, 1, "", io.EOF},
		{-1, 1, "", ErrInvalid},
	}
	for _, tt := range tests {
		p := make([]byte, tt.n)
		n, err := b.ReadAt(p, tt.off)
		if string(p[:n]) != tt.want || !errors.Is(err, tt.err) && err != tt.err {
			t.Errorf("ReadAt(%d, %d) = %q, %v; want %q, %v", tt.n, tt.off, p[:n], err, tt.want, tt.err)
		}
	}
	if b.Len() != 11 || b.ID() == 0 || b.Owner() != "o" {
		t.Errorf("len %d id %d owner %q", b.Len(), b.ID(), b.Owner())
	}
}

// TestBlobReleasedOnDrop: the bus releases the reference of every copy it
// drops (full mailbox, eviction, close), so dropped blobs are not leaked.
func TestBlobReleasedOnDrop(t *testing.T) {
	for _, policy := range []Overflow{DropNewest, DropOldest, Block} {
		t.Run(policy.String(), func(t *testing.T) {
			b, _ := newTestBus(t, Options{})
			store := NewBlobStore()
			pub := register(t, b, "pub", 1, AllowAll, MailboxConfig{})
			sub := register(t, b, "sub", 2, AllowAll, MailboxConfig{Capacity: 2, Overflow: policy, BlockTimeout: time.Millisecond})
			subscribe(t, sub, "x", "")
			grp := register(t, b, "grp", 3, AllowAll, MailboxConfig{Capacity: 1, Overflow: policy, BlockTimeout: time.Millisecond})
			subscribe(t, grp, "x", "g")
			for range 5 {
				bl, _ := store.New("pub", make([]byte, 8), nil)
				if err := pub.Publish("x", Message{Blob: bl}); err != nil {
					t.Fatal(err)
				}
				_ = bl.Release()
			}
			// Direct sends and replies follow the same rule.
			bl, _ := store.New("pub", make([]byte, 8), nil)
			if err := pub.Send("sub", Message{Blob: bl}); policy != DropOldest && !errors.Is(err, ErrFull) {
				t.Fatalf("send to full mailbox: %v", err)
			}
			_ = bl.Release()
			if n, _ := store.Stats(); n != 2 {
				t.Fatalf("%d live blobs, want 2 (those still queued)", n)
			}
			for _, m := range append(drain(sub.Mailbox()), drain(grp.Mailbox())...) {
				_ = m.Blob.Release()
			}
			if n, _ := store.Stats(); n != 0 {
				t.Fatalf("%d blobs leaked", n)
			}
		})
	}
}

func TestBlobRequestReply(t *testing.T) {
	b, _ := newTestBus(t, Options{})
	store := NewBlobStore()
	req := register(t, b, "req", 1, AllowAll, MailboxConfig{})
	srv := register(t, b, "srv", 2, AllowAll, MailboxConfig{})
	subscribe(t, srv, "thumb", "")
	go func() {
		m, err := srv.Mailbox().Recv(context.Background())
		if err != nil {
			return
		}
		out, _ := store.New("srv", append([]byte("thumb of "), m.Blob.Bytes()...), nil)
		_ = m.Blob.Release()
		_ = srv.ReplyMsg(m, Message{Blob: out})
		_ = out.Release()
	}()
	in, _ := store.New("req", []byte("photo"), nil)
	m, err := req.RequestMsg(ctxTimeout(t, 10*time.Second), "thumb", Message{Blob: in})
	_ = in.Release()
	if err != nil || m.Blob == nil || string(m.Blob.Bytes()) != "thumb of photo" {
		t.Fatalf("reply %+v, %v", m, err)
	}
	_ = m.Blob.Release()
	waitFor(t, "all blobs freed", func() bool { n, _ := store.Stats(); return n == 0 })
}
