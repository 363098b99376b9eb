package wasi

import (
	"io"
	"runtime"
	"time"
)

// Clock ids (witx "clockid").
const (
	ClockRealtime         = 0
	ClockMonotonic        = 1
	ClockProcessCPUTime   = 2
	ClockThreadCPUTime    = 3
	fakeEpochNanos        = 1640995200 * int64(time.Second) // 2022-01-01T00:00:00Z
	fakeStep              = int64(time.Millisecond)
	clockResolution       = uint64(time.Microsecond) // what clock_res_get reports for the real clocks
	maxArgsOrEnvBytes     = 1 << 20
	maxRandomGet          = 1 << 26 // one random_get; bigger requests are served in pieces by libc anyway
	randomChunk           = 1 << 16
	processClocksReported = true
)

func argsFuncs() []Func {
	return []Func{
		fn("args_get", func(s *State, m Memory, st []uint64) {
			st[0] = uint64(writeList(m, s.Args, uint32(st[0]), uint32(st[1])))
		}, "argv:i", "argv_buf:i"),
		fn("args_sizes_get", func(s *State, m Memory, st []uint64) {
			st[0] = uint64(writeSizes(m, s.Args, uint32(st[0]), uint32(st[1])))
		}, "result.argc:i", "result.argv_len:i"),
		fn("environ_get", func(s *State, m Memory, st []uint64) {
			st[0] = uint64(writeList(m, s.Env, uint32(st[0]), uint32(st[1])))
		}, "environ:i", "environ_buf:i"),
		fn("environ_sizes_get", func(s *State, m Memory, st []uint64) {
			st[0] = uint64(writeSizes(m, s.Env, uint32(st[0]), uint32(st[1])))
		}, "result.environc:i", "result.environv_len:i"),
	}
}

// writeList writes the NUL-terminated strings of list to buf and their
// addresses to ptrs (args_get, environ_get).
func writeList(m Memory, list []string, ptrs, buf uint32) Errno {
	for i, s := range list {
		if !m.WriteUint32Le(ptrs+uint32(4*i), buf) {
			return EFAULT
		}
		if !m.Write(buf, []byte(s)) || !m.Write(buf+uint32(len(s)), nul[:]) {
			return EFAULT
		}
		buf += uint32(len(s)) + 1
	}
	return ESUCCESS
}

var nul = [1]byte{0}

// writeSizes writes the count of list and the bytes its strings need.
func writeSizes(m Memory, list []string, count, size uint32) Errno {
	n := 0
	for _, s := range list {
		n += len(s) + 1
	}
	if !m.WriteUint32Le(count, uint32(len(list))) || !m.WriteUint32Le(size, uint32(n)) {
		return EFAULT
	}
	return ESUCCESS
}

func clockFuncs() []Func {
	return []Func{
		fn("clock_res_get", func(s *State, m Memory, st []uint64) {
			id, res := uint32(st[0]), uint32(st[1])
			var r uint64
			switch id {
			case ClockRealtime, ClockMonotonic, ClockProcessCPUTime, ClockThreadCPUTime:
				r = clockResolution
				if s.Walltime == nil {
					r = uint64(fakeStep)
				}
			default:
				st[0] = uint64(EINVAL)
				return
			}
			st[0] = uint64(putU64(m, res, r))
		}, "id:i", "result.resolution:i"),
		fn("clock_time_get", func(s *State, m Memory, st []uint64) {
			id, out := uint32(st[0]), uint32(st[2])
			t, errno := s.now(id)
			if errno != ESUCCESS {
				st[0] = uint64(errno)
				return
			}
			st[0] = uint64(putU64(m, out, uint64(t)))
		}, "id:i", "precision:I", "result.timestamp:i"),
	}
}

// now reads clock id in nanoseconds.
func (s *State) now(id uint32) (int64, Errno) {
	switch id {
	case ClockRealtime:
		if s.Walltime == nil {
			return fakeEpochNanos + s.fakeWall.Add(fakeStep) - fakeStep, ESUCCESS
		}
		sec, nsec := s.Walltime()
		return sec*int64(time.Second) + int64(nsec), ESUCCESS
	case ClockMonotonic, ClockProcessCPUTime, ClockThreadCPUTime:
		// A process's CPU clocks read as its monotonic clock: the engine
		// keeps CPU time per process for `orbital ps`, not per guest call.
		if s.Nanotime == nil {
			return s.fakeMono.Add(fakeStep) - fakeStep, ESUCCESS
		}
		return s.Nanotime(), ESUCCESS
	}
	return 0, EINVAL
}

func procFuncs() []Func {
	exit := fn("proc_exit", func(s *State, m Memory, st []uint64) {
		if s.Exit != nil {
			s.Exit(uint32(st[0]))
		}
		panic("proc_exit returned")
	}, "rval:i")
	exit.Results = nil
	return []Func{
		exit,
		// Signals are not part of Orbital's process model (WASI removed
		// proc_raise after preview 1): refused cleanly.
		fn("proc_raise", func(s *State, m Memory, st []uint64) { st[0] = uint64(ENOSYS) }, "sig:i"),
		fn("sched_yield", func(s *State, m Memory, st []uint64) {
			s.blocking(runtime.Gosched)
			st[0] = uint64(ESUCCESS)
		}),
		fn("random_get", func(s *State, m Memory, st []uint64) {
			buf, n := uint32(st[0]), uint32(st[1])
			st[0] = uint64(s.randomGet(m, buf, n))
		}, "buf:i", "buf_len:i"),
	}
}

// randomGet fills buf with n random bytes.
func (s *State) randomGet(m Memory, buf, n uint32) Errno {
	if n == 0 {
		return ESUCCESS
	}
	dst, ok := m.Read(buf, n)
	if !ok {
		return EFAULT
	}
	if s.Random == nil {
		return ENOSYS
	}
	if _, err := io.ReadFull(s.Random, dst); err != nil {
		return EIO
	}
	return ESUCCESS
}

// putU64 and putU32 write a result.
func putU64(m Memory, at uint32, v uint64) Errno {
	if !m.WriteUint64Le(at, v) {
		return EFAULT
	}
	return ESUCCESS
}

func putU32(m Memory, at, v uint32) Errno {
	if !m.WriteUint32Le(at, v) {
		return EFAULT
	}
	return ESUCCESS
}
