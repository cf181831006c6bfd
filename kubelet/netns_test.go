package kubelet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireRoot skips tests that make network namespaces.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating network namespaces needs root")
	}
}

// newTestNetns makes a network namespace with loopback up, as a pod
// sandbox's, held by a bind mount of its nsfs file in t.TempDir(); the
// mount is released when the test ends.
func newTestNetns(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "net")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var mounted bool
	err := onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		if err := testLinkUp("lo"); err != nil {
			return fmt.Errorf("bring up lo: %w", err)
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("hold the namespace: %w", err)
		}
		mounted = true
		return nil
	})
	if mounted {
		t.Cleanup(func() {
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
				t.Errorf("release test namespace: %v", err)
			}
		})
	}
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skipf("skipping: cannot create a network namespace here: %v", err)
		}
		t.Fatal(err)
	}
	return path
}

// onLockedThread runs fn on a locked thread of its own and then puts the
// thread back into its original network namespace (independently of the
// code under test). A thread that cannot go back is never unlocked, so the
// runtime retires it.
func onLockedThread(fn func() error) error {
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		goruntime.LockOSThread()
		var orig int
		orig, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			goruntime.UnlockOSThread()
			return
		}
		defer unix.Close(orig)
		err = fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
	}()
	<-done
	return err
}

// testLinkUp sets IFF_UP on a link of the calling thread's namespace.
func testLinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// listenInNetns opens a TCP listener on 127.0.0.1 inside the namespace
// held by ns, without going through the code under test.
func listenInNetns(t *testing.T, ns string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := onLockedThread(func() error {
		fd, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveToken answers every connection on ln with token and a newline.
func serveToken(t *testing.T, ln net.Listener, token string) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, token)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

func threadNetns(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// A dial through the namespace reaches a server that exists only there;
// the same address dialled from the kubelet's namespace does not.
func TestNetnsDialReachesOnlyThePodNamespace(t *testing.T) {
	ns := newTestNetns(t)
	ln := listenInNetns(t, ns)
	const token = "inside-the-pod-namespace"
	serveToken(t, ln, token)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialInNetns(ctx, ns, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial in namespace: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if strings.TrimSpace(line) != token {
		t.Fatalf("read %q, %v from the namespace's server, want %q", line, err, token)
	}
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("got a %T, want a *net.TCPConn", c)
	}

	for _, nsPath := range []string{"", "/proc/self/ns/net"} {
		hc, err := dialInNetns(ctx, nsPath, "tcp", ln.Addr().String())
		if err != nil {
			continue // nothing listens there: as expected
		}
		hc.SetReadDeadline(time.Now().Add(time.Second))
		line, _ := bufio.NewReader(hc).ReadString('\n')
		hc.Close()
		if strings.TrimSpace(line) == token {
			t.Errorf("dial with nsPath %q reached the pod namespace's server", nsPath)
		}
	}
}

// Dialling leaves the caller's thread in the kubelet's namespace, and no
// thread of the process stays in the pod's.
func TestNetnsDialKeepsThreadsInHostNamespace(t *testing.T) {
	goruntime.LockOSThread()
	host := threadNetns(t, "/proc/thread-self/ns/net")
	goruntime.UnlockOSThread()
	ns := newTestNetns(t)
	ln := listenInNetns(t, ns)
	serveToken(t, ln, "hello")
	pod := threadNetns(t, ns)
	if host == pod {
		t.Fatal("test namespace is the host's")
	}

	goruntime.LockOSThread()
	before := threadNetns(t, "/proc/thread-self/ns/net")
	c, err := dialInNetns(context.Background(), ns, "tcp", ln.Addr().String())
	after := threadNetns(t, "/proc/thread-self/ns/net")
	goruntime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if before != host || after != host {
		t.Errorf("caller's thread namespace before %d, after %d; host %d", before, after, host)
	}

	// Many dials at once, then every thread of the process is back.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialInNetns(context.Background(), ns, "tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("list threads: %v", err)
	}
	for _, p := range tasks {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Ino != host {
			t.Errorf("%s is not in the host namespace", p)
		}
	}
}

func TestNetnsDialErrors(t *testing.T) {
	ns := newTestNetns(t)
	ln := listenInNetns(t, ns)
	addr := ln.Addr().String()
	ln.Close()
	ctx := context.Background()

	_, err := dialInNetns(ctx, ns, "tcp", addr)
	if want := "dial tcp " + addr + ": connect: connection refused"; err == nil || err.Error() != want {
		t.Errorf("refused: got %v, want %q", err, want)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("refused: %#v is not a *net.OpError wrapping ECONNREFUSED", err)
	}

	if _, err := dialInNetns(ctx, filepath.Join(t.TempDir(), "missing"), "tcp", addr); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing namespace file: got %v", err)
	}
	if _, err := dialInNetns(ctx, ns, "udp", addr); err == nil || !strings.Contains(err.Error(), "unknown network udp") {
		t.Errorf("udp: got %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := dialInNetns(canceled, ns, "tcp", addr); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got %v", err)
	}
}

// A host name is resolved by the kubelet and dialled in the namespace.
func TestNetnsDialResolvesNames(t *testing.T) {
	ns := newTestNetns(t)
	ln := listenInNetns(t, ns)
	serveToken(t, ln, "by-name")
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := dialInNetns(context.Background(), ns, "tcp4", net.JoinHostPort("localhost", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if line, _ := bufio.NewReader(c).ReadString('\n'); strings.TrimSpace(line) != "by-name" {
		t.Errorf("read %q", line)
	}
}
