package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Pods have no routable address yet, so the kubelet reaches a pod's ports
// from inside the pod's network namespace. A socket belongs to the network
// namespace of the thread that created it, for its whole life: only the
// socket(2) call needs to happen in the pod's namespace; connecting,
// reading and writing then work from any thread.

// inNetns runs fn on an OS thread that has entered the network namespace
// held by the nsfs file nsPath, and waits for it. fn must do its work in
// its own goroutine (whatever it starts runs on other threads, in the
// kubelet's namespace).
//
// The thread is a dedicated goroutine's, locked to it: once fn returns the
// thread goes back to its own namespace and is unlocked. If it cannot go
// back, the goroutine ends still locked, and the Go runtime then ends the
// thread instead of reusing it (no other goroutine ever runs in the pod's
// namespace by accident). The runtime never starts new threads from a
// locked one, so the pod's namespace does not leak into new threads either.
func inNetns(nsPath string, fn func() error) error {
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer unix.Close(target)
	var fnErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		goruntime.LockOSThread()
		// Only now is the thread fixed: its own namespace is the one to
		// return to.
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			fnErr = fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			fnErr = fmt.Errorf("enter network namespace %s: %w", nsPath, err)
			return
		}
		fnErr = fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine. What fn
			// made is still good, so its result stands.
			return
		}
		goruntime.UnlockOSThread()
	}()
	<-done
	return fnErr
}

// dialInNetns connects to address from inside the network namespace held
// by the nsfs file nsPath ("" = the kubelet's own, an ordinary dial).
// Names are resolved in the kubelet's namespace (with its resolver, as
// Kubernetes' kubelet resolves probe hosts); the socket is created in the
// pod's and then connected from here, honouring ctx's deadline and
// cancellation. network is "tcp", "tcp4" or "tcp6"; errors read as the
// net package's (`dial tcp 127.0.0.1:8080: connect: connection refused`).
func dialInNetns(ctx context.Context, nsPath, network, address string) (net.Conn, error) {
	if nsPath == "" {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	ipNetwork := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	if ipNetwork == "" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var ips []netip.Addr
	switch {
	case host == "" && network == "tcp6":
		ips = []netip.Addr{netip.IPv6Loopback()}
	case host == "":
		// As net.Dial: an empty host is the local system.
		ips = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	default:
		ips, err = net.DefaultResolver.LookupNetIP(ctx, ipNetwork, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}
	// Addresses are tried in turn, as net.Dialer does without a fallback
	// delay; the first error is the one reported.
	var first error
	for _, ip := range ips {
		c, err := dialAddrInNetns(ctx, nsPath, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

func dialAddrInNetns(ctx context.Context, nsPath, network string, to netip.AddrPort) (net.Conn, error) {
	raddr := net.TCPAddrFromAddrPort(to)
	fail := func(err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	domain, sa, err := sockaddr(to)
	if err != nil {
		return fail(err)
	}
	fd := -1
	err = inNetns(nsPath, func() error {
		var err error
		fd, err = unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return os.NewSyscallError("socket", err)
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return fail(err)
	}
	// A non-blocking descriptor makes a pollable File: the connect below
	// waits in the runtime's poller, not on a thread.
	f := os.NewFile(uintptr(fd), "tcp socket")
	defer f.Close() // net.FileConn keeps a duplicate
	if err := connect(ctx, f, sa); err != nil {
		return fail(err)
	}
	c, err := net.FileConn(f)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

func sockaddr(ap netip.AddrPort) (int, unix.Sockaddr, error) {
	ip := ap.Addr()
	if ip.Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	if zone := ip.Zone(); zone != "" {
		// Interface names would be looked up in the kubelet's namespace,
		// not the pod's: only numeric zones make sense here.
		id, err := strconv.ParseUint(zone, 10, 32)
		if err != nil {
			return 0, nil, fmt.Errorf("IPv6 zone %q: only interface indexes are supported", zone)
		}
		sa.ZoneId = uint32(id)
	}
	return unix.AF_INET6, sa, nil
}

// connect connects the non-blocking socket f to sa, waiting in the poller
// until it is connected, fails, or ctx ends.
func connect(ctx context.Context, f *os.File, sa unix.Sockaddr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), sa) }); err != nil {
		return err
	}
	switch {
	case cerr == nil:
		return nil
	case errors.Is(cerr, unix.EINPROGRESS), errors.Is(cerr, unix.EALREADY), errors.Is(cerr, unix.EINTR):
	default:
		return os.NewSyscallError("connect", cerr)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := f.SetWriteDeadline(deadline); err != nil {
			return err
		}
	}
	// Cancellation interrupts the wait through a deadline in the past.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		f.SetWriteDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-interrupted
		}
	}()
	var soErr error
	werr := rc.Write(func(fd uintptr) bool {
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			soErr = os.NewSyscallError("getsockopt", err)
			return true
		}
		switch e := unix.Errno(n); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		case 0:
			// The poller can wake spuriously: connected means a peer.
			_, err := unix.Getpeername(int(fd))
			return err == nil
		default:
			soErr = os.NewSyscallError("connect", e)
			return true
		}
	})
	if werr != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return ctx.Err()
		}
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return os.ErrDeadlineExceeded // "i/o timeout", as net.Dialer says
		}
		return werr
	}
	return soErr
}
