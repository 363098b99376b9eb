package wasi

import (
	"io"
	"os"
	"time"

	"github.com/orbitalfoundation/orbital/internal/fs"
)

// Event types and flags of poll_oneoff.
const (
	EventtypeClock   = 0
	EventtypeFdRead  = 1
	EventtypeFdWrite = 2

	subclockAbstime = 1
	eventHangup     = 1

	subscriptionSize = 48
	eventSize        = 32
	// maxSubscriptions bounds one poll_oneoff.
	maxSubscriptions = 4096
	// pollSlice bounds one wait for descriptors, so that a kill is seen
	// within it.
	pollSlice = 50 * time.Millisecond
)

func pollFuncs() []Func {
	return []Func{fn("poll_oneoff", pollOneoff, "in:i", "out:i", "nsubscriptions:i", "result.nevents:i")}
}

// subscription is one decoded subscription.
type subscription struct {
	userdata uint64
	typ      uint8
	// clock
	deadline int64 // monotonic nanoseconds (Nanotime) when it fires
	// fd_read, fd_write
	fd int32
}

// event is one result.
type event struct {
	userdata uint64
	errno    Errno
	typ      uint8
	nbytes   uint64
	flags    uint16
}

func pollOneoff(s *State, m Memory, st []uint64) {
	in, out, n, nevents := uint32(st[0]), uint32(st[1]), uint32(st[2]), uint32(st[3])
	st[0] = uint64(s.poll(m, in, out, n, nevents))
}

func (s *State) poll(m Memory, in, out, n, nevents uint32) Errno {
	if n == 0 || n > maxSubscriptions {
		return EINVAL
	}
	raw, ok := m.Read(in, n*subscriptionSize)
	if !ok {
		return EFAULT
	}
	if _, ok := m.Read(out, n*eventSize); !ok {
		return EFAULT
	}
	now, _ := s.now(ClockMonotonic)
	subs, events := decodeSubscriptions(s, raw, now)
	// Descriptors: ready now, or to wait for.
	var waits []fdWait
	for i := range subs {
		sub := &subs[i]
		if sub.typ == EventtypeClock {
			continue
		}
		ev, wait := s.fdReadiness(sub)
		if wait != nil {
			waits = append(waits, *wait)
			continue
		}
		events = append(events, ev)
	}
	// Clocks already due.
	earliest := int64(-1)
	for _, sub := range subs {
		if sub.typ != EventtypeClock {
			continue
		}
		if sub.deadline <= now {
			events = append(events, event{userdata: sub.userdata, typ: EventtypeClock})
		} else if earliest < 0 || sub.deadline < earliest {
			earliest = sub.deadline
		}
	}
	if len(events) == 0 {
		events = s.wait(subs, waits, now, earliest)
	}
	for i, ev := range events {
		var b [eventSize]byte
		le64(b[0:], ev.userdata)
		le16(b[8:], uint16(ev.errno))
		b[10] = ev.typ
		le64(b[16:], ev.nbytes)
		le16(b[24:], ev.flags)
		m.Write(out+uint32(i)*eventSize, b[:])
	}
	return putU32(m, nevents, uint32(len(events)))
}

// decodeSubscriptions reads the subscriptions; a bad one becomes an event
// carrying its error.
func decodeSubscriptions(s *State, raw []byte, now int64) ([]subscription, []event) {
	var subs []subscription
	var bad []event
	for off := 0; off+subscriptionSize <= len(raw); off += subscriptionSize {
		b := raw[off : off+subscriptionSize]
		sub := subscription{userdata: u64le(b[0:]), typ: b[8]}
		switch sub.typ {
		case EventtypeClock:
			id := u32le(b[16:])
			timeout := int64(u64le(b[24:]))
			flags := u16le(b[40:])
			switch id {
			case ClockRealtime, ClockMonotonic:
			default:
				bad = append(bad, event{userdata: sub.userdata, typ: sub.typ, errno: EINVAL})
				continue
			}
			if flags&subclockAbstime != 0 {
				// An absolute time on its own clock, turned into our
				// monotonic timeline.
				clockNow, _ := s.now(id)
				sub.deadline = now + (timeout - clockNow)
			} else {
				sub.deadline = now + timeout
			}
			if timeout < 0 {
				sub.deadline = now
			}
		case EventtypeFdRead, EventtypeFdWrite:
			sub.fd = int32(u32le(b[16:]))
		default:
			bad = append(bad, event{userdata: sub.userdata, typ: sub.typ, errno: EINVAL})
			continue
		}
		subs = append(subs, sub)
	}
	return subs, bad
}

// fdWait is a descriptor poll_oneoff has to wait for.
type fdWait struct {
	sub   *subscription
	fd    int // host descriptor
	write bool
}

// fdReadiness reports an fd subscription's event if it is ready (or
// failed) now, else what to wait for.
func (s *State) fdReadiness(sub *subscription) (event, *fdWait) {
	ev := event{userdata: sub.userdata, typ: sub.typ}
	d, errno := s.Files.Get(sub.fd)
	if errno != ESUCCESS {
		ev.errno = errno
		return ev, nil
	}
	if !d.has(RightPollFdReadwrite) {
		ev.errno = ENOTCAPABLE
		return ev, nil
	}
	write := sub.typ == EventtypeFdWrite
	switch {
	case d.Sock != nil:
		if fd, ok := d.Sock.Fd(); ok {
			return ev, &fdWait{sub: sub, fd: fd, write: write}
		}
		return ev, nil
	case d.File != nil:
		if st, ok := d.File.(*stream); ok {
			if f, isFile := st.r.(*os.File); isFile && !write {
				return ev, &fdWait{sub: sub, fd: int(f.Fd()), write: false}
			}
			if write && st.w == nil && st.r != nil || !write && st.r == nil && st.w != nil {
				ev.errno = EBADF
			}
			return ev, nil
		}
		// Regular files are always ready; a read reports what is left.
		if !write && !d.isDir() {
			if stat, e := d.File.Stat(); e == 0 {
				if pos, e := fs.Seek(d.File, 0, io.SeekCurrent); e == 0 && stat.Size > pos {
					ev.nbytes = uint64(stat.Size - pos)
				}
			}
		}
		return ev, nil
	}
	return ev, nil
}

// wait blocks until a descriptor is ready or the earliest clock fires
// (earliest < 0: no clock), and returns the events then.
func (s *State) wait(subs []subscription, waits []fdWait, now, earliest int64) []event {
	if len(waits) == 0 {
		if earliest < 0 {
			return nil // nothing to wait for
		}
		if s.Sleep != nil {
			s.Sleep(earliest - now)
		}
		now, _ = s.now(ClockMonotonic)
		return dueClocks(subs, now, earliest)
	}
	for {
		timeout := time.Duration(-1)
		if earliest >= 0 {
			timeout = time.Duration(earliest - now)
			if s.Nanotime == nil {
				timeout = 0 // fake clocks: the timeout is over at once
			}
		}
		slice := timeout
		if slice < 0 || slice > pollSlice {
			slice = pollSlice
		}
		var ready []int
		s.blocking(func() { ready = pollFds(waits, slice) })
		var events []event
		for _, i := range ready {
			w := waits[i]
			events = append(events, event{userdata: w.sub.userdata, typ: w.sub.typ})
		}
		now, _ = s.now(ClockMonotonic)
		if earliest >= 0 && (now >= earliest || s.Nanotime == nil) {
			events = append(events, dueClocks(subs, max(now, earliest), earliest)...)
		}
		if len(events) > 0 {
			return events
		}
		select {
		case <-s.Done:
			s.blocking(func() {}) // a killed process unwinds here
			return nil
		default:
		}
	}
}

// dueClocks returns the events of the clocks due by now.
func dueClocks(subs []subscription, now, earliest int64) []event {
	var out []event
	for _, sub := range subs {
		if sub.typ == EventtypeClock && sub.deadline <= max(now, earliest) {
			out = append(out, event{userdata: sub.userdata, typ: EventtypeClock})
		}
	}
	return out
}

func u16le(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func u32le(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func u64le(b []byte) uint64 { return uint64(u32le(b)) | uint64(u32le(b[4:]))<<32 }
