package container

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stageError names the step of the init stage that failed.
type stageError struct {
	op  string
	err error
}

func (e *stageError) Error() string { return e.op + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// initMain is the container's first process, in its new namespaces and
// cgroup. Everything namespace- or credential-related happens on one
// locked OS thread: setns, capabilities and no_new_privs are per thread,
// and execve turns this thread into the whole process.
func initMain(dir string) {
	runtime.LockOSThread()
	// Inherited without close-on-exec; the user's process must not keep
	// it (Start waits for it to close at execve).
	unix.CloseOnExec(syncFd)
	syncW := os.NewFile(syncFd, "sync")
	// The error file is opened first: after pivot_root its path is gone.
	errFile, err := os.OpenFile(filepath.Join(dir, initErrorFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	fail := func(err error) {
		writeSync(syncW, syncMsg{Error: err.Error()})
		if errFile != nil {
			errFile.WriteString(err.Error())
		}
		os.Exit(128)
	}
	if err != nil {
		fail(err)
	}
	spec, err := readSpec(dir)
	if err != nil {
		fail(err)
	}
	// Opened before pivot_root hides the container directory.
	fifo, err := unix.Open(filepath.Join(dir, fifoFile), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(&stageError{"open exec fifo", err})
	}
	if err := joinNamespaces(spec); err != nil {
		fail(err)
	}
	if spec.Sandbox == "" && spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			fail(&stageError{"sethostname", err})
		}
	}
	if spec.Sandbox == "" {
		// A fresh network namespace has loopback down.
		if err := setLinkUp("lo"); err != nil {
			fail(&stageError{"bring up lo", err})
		}
	}
	if err := setupRootfs(spec, dir); err != nil {
		fail(err)
	}
	argv0, env, id, err := prepareProcess(spec)
	if err != nil {
		fail(err)
	}
	writeSync(syncW, syncMsg{Ready: true})

	// Wait for Start: it opens the fifo for writing, which lets this open
	// for reading return.
	rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fifo), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(&stageError{"wait for start", err})
	}
	var b [1]byte
	unix.Read(rfd, b[:])
	unix.Close(rfd)
	unix.Close(fifo)

	if err := dropPrivileges(spec, id); err != nil {
		fail(err)
	}
	// Only stdin, stdout and stderr survive into the user's process (a
	// leaked descriptor of the host is an escape: runc's CVE-2024-21626).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		fail(&stageError{"close inherited descriptors", err})
	}
	err = unix.Exec(argv0, spec.Process.Args, env)
	// Only a failed execve gets here.
	msg := fmt.Sprintf("exec %s: %v", spec.Process.Args[0], err)
	errFile.WriteString(msg)
	writeSync(syncW, syncMsg{Error: msg})
	os.Exit(127)
}

// prepareProcess resolves what init and the exec stage (exec.go) share,
// once the calling thread is in the container's namespaces and root: the
// environment (with HOME from the user), the user (from the container's
// /etc/passwd and /etc/group), the working directory (entered here, as
// root, before privileges are dropped) and the executable (looked up in
// the process's PATH).
func prepareProcess(spec *Spec) (argv0 string, env []string, id identity, err error) {
	env = processEnv(spec)
	id, err = resolveUser(&spec.Process, openOrNil("/etc/passwd"), openOrNil("/etc/group"))
	if err != nil {
		return "", nil, id, err
	}
	env = setDefaultEnv(env, "HOME", id.Home)
	cwd := spec.Process.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.Chdir(cwd); err != nil {
		return "", nil, id, &stageError{"chdir " + cwd, err}
	}
	argv0, err = lookPath(spec.Process.Args[0], env)
	if err != nil {
		return "", nil, id, err
	}
	return argv0, env, id, nil
}

// joinNamespaces enters the sandbox's network, IPC and UTS namespaces, on
// this thread (the one that will execve).
func joinNamespaces(spec *Spec) error {
	for _, ns := range []struct {
		kind string
		flag int
	}{{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}} {
		p := spec.NamespacePaths[ns.kind]
		if p == "" {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &stageError{"open " + ns.kind + " namespace of sandbox " + spec.Sandbox, err}
		}
		err = unix.Setns(fd, ns.flag)
		unix.Close(fd)
		if err != nil {
			return &stageError{"join " + ns.kind + " namespace of sandbox " + spec.Sandbox, err}
		}
	}
	return nil
}

// dropPrivileges: bounding set (needs CAP_SETPCAP, so first), seccomp,
// groups, gid, uid, then the capability sets for root, then no_new_privs.
func dropPrivileges(spec *Spec, id identity) error {
	keep := spec.capabilities()
	if !spec.Privileged {
		if err := applyBoundingSet(keep); err != nil {
			return err
		}
	}
	// Before the uid change: without no_new_privs, loading a filter
	// takes CAP_SYS_ADMIN, which init still has here.
	if spec.Seccomp == SeccompRuntimeDefault && !spec.Privileged {
		if err := installSeccomp(seccompFilter(keep)); err != nil {
			return err
		}
	}
	// Credentials change on this thread only (raw syscalls): execve
	// makes it the whole process, and Go's syscall.Setuid would stop
	// every thread to change them all, for nothing.
	if err := clearInheritable(); err != nil {
		return err
	}
	if err := setThreadCredentials(id); err != nil {
		return err
	}
	if id.UID == 0 {
		if err := setProcessCapabilities(keep); err != nil {
			return err
		}
	}
	if !spec.Privileged && spec.Process.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return &stageError{"set no_new_privs", err}
		}
	}
	return nil
}

// processEnv is the Spec's environment with a later value of a name
// replacing an earlier one (in the earlier one's place, as containerd
// does: image Env first, then the pod's), plus PATH and HOSTNAME defaults.
func processEnv(spec *Spec) []string {
	var env []string
	at := map[string]int{}
	for _, kv := range spec.Process.Env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := at[name]; ok {
			env[i] = kv
			continue
		}
		at[name] = len(env)
		env = append(env, kv)
	}
	env = setDefaultEnv(env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	if h, err := os.Hostname(); err == nil {
		env = setDefaultEnv(env, "HOSTNAME", h)
	}
	return env
}

func setDefaultEnv(env []string, key, value string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return env
		}
	}
	return append(env, key+"="+value)
}

// lookPath finds name in the container's PATH (the process's, not ours).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("exec %s: %w", name, err)
		}
		return name, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %s: executable file not found in $PATH", name)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: permission denied", p)
	}
	return nil
}

// setLinkUp sets IFF_UP on a link of the current thread's network namespace.
func setLinkUp(name string) error {
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

func readFileString(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

func itoa(n int) string { return fmt.Sprint(n) }

// setThreadCredentials sets the calling thread's supplementary groups, gid
// and uid (real, effective and saved).
func setThreadCredentials(id identity) error {
	groups := make([]uint32, len(id.Groups))
	copy(groups, id.Groups)
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
		return &stageError{"setgroups", e}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id.GID), uintptr(id.GID), uintptr(id.GID)); e != 0 {
		return &stageError{fmt.Sprintf("setgid %d", id.GID), e}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id.UID), uintptr(id.UID), uintptr(id.UID)); e != 0 {
		return &stageError{fmt.Sprintf("setuid %d", id.UID), e}
	}
	return nil
}
