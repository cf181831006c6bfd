package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A sandbox holds a pod's network, IPC and UTS namespaces, which its
// containers join. There is no pause process: each namespace is kept alive
// by a bind mount of its nsfs file at sandboxes/<id>/{net,ipc,uts} (the
// way `ip netns add` keeps a network namespace), so the "first namespace
// holder" is the mount itself. The pod network (issue: kubelet) configures
// the net file's namespace.

var sandboxNamespaces = []struct {
	name string
	flag int
}{{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}}

// CreateSandbox makes new namespaces for a pod, sets their hostname and
// brings loopback up. A short-lived shim process is born in them (a Go
// thread that unshared could be the main thread, which Go never retires);
// once their nsfs files are bind-mounted it exits.
func (r *Runtime) CreateSandbox(ctx context.Context, id, hostname string) error {
	if !validID(id) {
		return fmt.Errorf("sandbox id %q: %w", id, ErrInvalid)
	}
	dir := filepath.Join(r.root, "sandboxes", id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("sandbox %q: %w", id, ErrAlreadyExists)
		}
		return err
	}
	// Containers joining it write it into their /etc/hostname and hosts.
	if err := os.WriteFile(filepath.Join(dir, "hostname"), []byte(hostname+"\n"), 0o644); err != nil {
		return err
	}
	if err := r.holdNamespaces(ctx, dir, hostname); err != nil {
		r.RemoveSandbox(id)
		return fmt.Errorf("create sandbox %q: %w", id, err)
	}
	return nil
}

func (r *Runtime) holdNamespaces(ctx context.Context, dir, hostname string) error {
	flags := 0
	for _, ns := range sandboxNamespaces {
		flags |= ns.flag
	}
	cmd := exec.CommandContext(ctx, r.shim)
	cmd.Args = []string{"shepherd-sandbox", hostname}
	cmd.Env = []string{envStage + "=" + stageSandbox}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	var out strings.Builder
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: uintptr(flags)}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.shim, err)
	}
	// Closing stdin lets the holder exit; then reap it.
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		stdin.Close()
		cmd.Wait()
		return fmt.Errorf("set up namespaces: %s", strings.TrimSpace(out.String()))
	}
	for _, ns := range sandboxNamespaces {
		p := filepath.Join(dir, ns.name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			return err
		}
		src := fmt.Sprintf("/proc/%d/ns/%s", cmd.Process.Pid, ns.name)
		if err := unix.Mount(src, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("hold %s namespace: %w", ns.name, err)
		}
	}
	return nil
}

// sandboxMain runs in the new namespaces: it names the host, brings up
// loopback, says "ready" and waits for stdin to close.
func sandboxMain(hostname string) int {
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			fmt.Fprintln(os.Stderr, "sethostname:", err)
			return 1
		}
	}
	if err := setLinkUp("lo"); err != nil {
		fmt.Fprintln(os.Stderr, "bring up lo:", err)
		return 1
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// RemoveSandbox releases the namespaces (they end once no container uses
// them) and removes the directory. A missing sandbox is not an error.
func (r *Runtime) RemoveSandbox(id string) error {
	if !validID(id) {
		return fmt.Errorf("sandbox id %q: %w", id, ErrInvalid)
	}
	dir := filepath.Join(r.root, "sandboxes", id)
	var errs []error
	for _, ns := range sandboxNamespaces {
		p := filepath.Join(dir, ns.name)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("release %s namespace: %w", ns.name, err))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SandboxNamespacePath is the file holding one of a sandbox's namespaces
// ("net", "ipc", "uts"), e.g. for configuring the pod network.
func (r *Runtime) SandboxNamespacePath(id, ns string) string {
	return filepath.Join(r.root, "sandboxes", id, ns)
}

func (r *Runtime) sandboxPaths(id string) (map[string]string, error) {
	out := map[string]string{}
	for _, ns := range sandboxNamespaces {
		p := r.SandboxNamespacePath(id, ns.name)
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err != nil {
			return nil, fmt.Errorf("sandbox %q: %w", id, err)
		}
		if st.Type != unix.NSFS_MAGIC {
			return nil, fmt.Errorf("sandbox %q: %s does not hold a namespace", id, p)
		}
		out[ns.name] = p
	}
	return out, nil
}

// ListSandboxes returns the IDs of the sandboxes that exist.
func (r *Runtime) ListSandboxes() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.root, "sandboxes"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && validID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// CheckSandbox reports whether a sandbox exists and still holds its
// namespaces (its bind mounts can be undone from outside, by a reboot or
// an operator): nil if usable, an error wrapping ErrNotFound if not there.
func (r *Runtime) CheckSandbox(id string) error {
	if !validID(id) {
		return fmt.Errorf("sandbox id %q: %w", id, ErrInvalid)
	}
	if _, err := os.Stat(filepath.Join(r.root, "sandboxes", id)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox %q: %w", id, ErrNotFound)
	}
	_, err := r.sandboxPaths(id)
	return err
}
