package engine

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	"github.com/orbitalfoundation/orbital/api"
	ofs "github.com/orbitalfoundation/orbital/internal/fs"
	"github.com/orbitalfoundation/orbital/internal/wasi"
)

// systemInterface builds the guest's WASI state from its capabilities:
// argv and environment, the clocks and sleep if granted, randomness, the
// standard streams, a descriptor per granted directory (in the order
// granted, from 3), the /io streams, and the sockets its network grant
// names — listeners the host opens for it, addresses it may dial.
func (i *Instance) systemInterface(spec Spec) error {
	caps := spec.Caps
	s := &wasi.State{
		Args:     append([]string{spec.Name}, caps.Args...),
		Env:      caps.Env,
		Blocking: i.blocking,
		Done:     i.ctx.Done(),
		Exit: func(code uint32) {
			if i.mod != nil {
				_ = i.mod.CloseWithExitCode(i.ctx, code)
			}
			panic(sys.NewExitError(code))
		},
		Files: &wasi.Table{},
		Quota: i.quota,
	}
	i.wasi = s
	if caps.Clock {
		s.Walltime = walltime
		s.Nanotime = func() int64 { return time.Since(monoStart).Nanoseconds() }
		s.Sleep = i.sleep
	}
	if caps.Random {
		s.Random = rand.Reader
	} else {
		// Not granted: deterministic bytes, the same for every instance.
		s.Random = &fakeRand{state: 0x9E3779B97F4A7C15}
	}
	var stdin, stdout, stderr = wasi.Stdin(s, nil), wasi.Stdout(s, nil), wasi.Stdout(s, nil)
	if caps.Stdin && spec.Stdin != nil {
		stdin = wasi.Stdin(s, spec.Stdin)
	}
	if caps.Stdout && spec.Stdout != nil {
		stdout = wasi.Stdout(s, spec.Stdout)
	}
	if caps.Stderr && spec.Stderr != nil {
		stderr = wasi.Stdout(s, spec.Stderr)
	}
	for _, d := range []*wasi.Descriptor{stdin, stdout, stderr} {
		if _, errno := s.Files.Add(d); errno != wasi.ESUCCESS {
			return fmt.Errorf("stdio: errno %d", errno)
		}
	}
	for _, d := range caps.Dirs {
		dfs, err := ofs.Dir(d.Host, d.ReadOnly, i.quota)
		if err != nil {
			return fmt.Errorf("mount %s: %w", d.Guest, err)
		}
		i.addMount(dfs)
		if err := preopen(s, dfs, d.Guest, d.ReadOnly); err != nil {
			return fmt.Errorf("mount %s: %w", d.Guest, err)
		}
	}
	if len(spec.Files) > 0 {
		ffs, err := ofs.Files(spec.Files, i.quota)
		if err != nil {
			return fmt.Errorf("mount %s: %w", IOMount, err)
		}
		i.addMount(ffs)
		if err := preopen(s, ffs, IOMount, false); err != nil {
			return fmt.Errorf("mount %s: %w", IOMount, err)
		}
	}
	return i.network(s, caps.Network)
}

// preopen opens a mount's root as a preopened directory named guest.
func preopen(s *wasi.State, fsys experimentalsys.FS, guest string, readOnly bool) error {
	f, errno := fsys.OpenFile(".", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		return fmt.Errorf("open its root: %w", errno)
	}
	base, inherit := wasi.PreopenRights()
	d := &wasi.Descriptor{File: f, Filetype: wasi.FiletypeDirectory, FS: fsys, Path: ".", Preopen: guest,
		ReadOnly: readOnly, Base: base, Inherit: inherit}
	if _, e := s.Files.Add(d); e != wasi.ESUCCESS {
		_ = f.Close()
		return fmt.Errorf("%w: no descriptor for it (errno %d)", api.ErrLimit, e)
	}
	return nil
}

// network opens the listeners of the grant and records what may be
// dialled. A listener that cannot be opened (the address is taken) fails
// the start: the operator granted an address that does not work.
func (i *Instance) network(s *wasi.State, grants []string) error {
	if len(grants) == 0 {
		return nil
	}
	s.Net = &wasi.Net{}
	for _, g := range grants {
		kind, addr, err := wasi.ParseAddress(g)
		if err != nil {
			return fmt.Errorf("%w: %v", api.ErrInvalid, err)
		}
		if kind == "connect" {
			s.Net.Connect = append(s.Net.Connect, addr)
			continue
		}
		host, port, _ := net.SplitHostPort(addr)
		if host == "*" {
			host = "" // every interface: the operator granted it
		}
		if port == "*" {
			port = "0" // a port the host picks
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%w: listen %s: %v", api.ErrExists, addr, err)
			}
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		sock, err := wasi.NewTCPListener(ln.(*net.TCPListener))
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		if _, errno := s.AddListener(sock); errno != wasi.ESUCCESS {
			_ = sock.Close()
			return fmt.Errorf("%w: listen %s: no descriptor (errno %d)", api.ErrLimit, addr, errno)
		}
		i.listeners = append(i.listeners, ln.Addr().String())
	}
	if len(i.listeners) > 0 {
		// The guest cannot ask a socket its address (preview 1 has no
		// getsockname): tell it, for a port the host picked.
		s.Env = append(append([]string(nil), s.Env...), ListenEnv+"="+strings.Join(i.listeners, ","))
	}
	return nil
}

// ListenEnv is the environment variable that tells a guest the addresses
// of its listeners, comma-separated, in descriptor order.
const ListenEnv = "ORBITAL_LISTEN"

// walltime reads the wall clock.
func walltime() (int64, int32) {
	t := time.Now()
	return t.Unix(), int32(t.Nanosecond())
}
