package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// accel is a qemu accelerator and the CPU model that goes with it.
type accel struct {
	name string
	args []string
}

var (
	accelKVM = accel{"kvm", []string{"-enable-kvm", "-cpu", "host"}}
	accelTCG = accel{"tcg", []string{"-accel", "tcg", "-cpu", "max"}}
)

// kvmStartTimeout is how long a KVM guest may take to show its init
// before the test gives up on KVM. A working KVM gets there in a second or
// two; a nested one that does not work (inside another VM, say) may hang
// the guest without a word instead of failing.
const kvmStartTimeout = 30 * time.Second

// accels returns the accelerators to try, in order, and why KVM is not
// among them.
func accels() ([]accel, string) {
	switch os.Getenv("SHEPHERD_VM_ACCEL") {
	case "tcg":
		return []accel{accelTCG}, "SHEPHERD_VM_ACCEL=tcg"
	case "kvm":
		return []accel{accelKVM}, ""
	}
	if err := kvmWorks(); err != nil {
		return []accel{accelTCG}, err.Error()
	}
	return []accel{accelKVM, accelTCG}, ""
}

// ioctls of linux/kvm.h.
const (
	kvmGetAPIVersion = 0xAE00
	kvmCreateVM      = 0xAE01
	kvmAPIVersion    = 12
)

// kvmWorks checks that /dev/kvm opens and creates a VM.
func kvmWorks() error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("/dev/kvm: %w", err)
	}
	defer unix.Close(fd)
	if v, err := unix.IoctlRetInt(fd, kvmGetAPIVersion); err != nil || v != kvmAPIVersion {
		return fmt.Errorf("/dev/kvm: KVM_GET_API_VERSION = %d, %v; want %d", v, err, kvmAPIVersion)
	}
	vm, err := unix.IoctlRetInt(fd, kvmCreateVM)
	if err != nil {
		return fmt.Errorf("/dev/kvm: KVM_CREATE_VM: %w", err)
	}
	unix.Close(vm)
	return nil
}

// errNotStarted is wrapped by boot's error when the guest's init never
// said it started: qemu failed, or the guest hung on the way.
var errNotStarted = errors.New("the guest's init did not start")

// console is the guest's serial console (and qemu's own messages). It
// closes started at the guest's first marker line.
type console struct {
	marker []byte

	mu      sync.Mutex
	buf     bytes.Buffer
	started chan struct{}
	seen    bool
}

func newConsole(marker string) *console {
	return &console{marker: []byte(marker), started: make(chan struct{})}
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if !c.seen && bytes.Contains(c.buf.Bytes(), c.marker) {
		c.seen = true
		close(c.started)
	}
	return len(p), nil
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *console) hasStarted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen
}

// vmConfig is what boot starts.
type vmConfig struct {
	qemu, kernel, initrd string
	// startedMarker is the line the guest's init prints first.
	startedMarker string
}

// boot runs the guest with a until it powers off (or panics: qemu runs
// with -no-reboot) or ctx ends, and returns its console output. With
// startTimeout > 0 it gives up, with errNotStarted, on a guest whose init
// has not printed cfg.startedMarker by then. qemu is killed whatever
// happens, and if the test process dies.
func boot(ctx context.Context, cfg vmConfig, a accel, startTimeout time.Duration) (string, error) {
	args := append([]string{
		"-m", "1024", "-smp", "2",
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", cfg.kernel, "-initrd", cfg.initrd,
		"-append", "console=ttyS0 panic=-1 quiet",
	}, a.args...)
	con := newConsole(cfg.startedMarker)
	cmd := exec.CommandContext(ctx, cfg.qemu, args...)
	cmd.Stdout, cmd.Stderr = con, con
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%w: %v", errNotStarted, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	started := con.started
	var timeout <-chan time.Time
	if startTimeout > 0 {
		timer := time.NewTimer(startTimeout)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		select {
		case err := <-exited:
			switch {
			case ctx.Err() != nil:
				return con.String(), fmt.Errorf("qemu killed: the guest did not power off in time: %w", ctx.Err())
			case !con.hasStarted():
				return con.String(), fmt.Errorf("%w: qemu exited: %v", errNotStarted, err)
			case err != nil:
				return con.String(), fmt.Errorf("qemu: %w", err)
			}
			return con.String(), nil
		case <-started:
			started, timeout = nil, nil
		case <-timeout:
			cmd.Process.Kill()
			<-exited
			return con.String(), fmt.Errorf("%w: no word from it after %v", errNotStarted, startTimeout)
		}
	}
}
