package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Files in a container's directory.
const (
	configFile = "config.json"
	stateFile  = "state.json"
	exitFile   = "exit.json"
	fifoFile   = "exec.fifo"
	rootfsDir  = "rootfs"
	upperDir   = "upper"
	workDir    = "work"
)

// setupRootfs builds the container's root filesystem in its (new, private)
// mount namespace and pivots into it. Nothing mounted here is visible on
// the host, and all of it goes away with the namespace.
func setupRootfs(spec *Spec, dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return &stageError{"make / private", err}
	}
	root := filepath.Join(dir, rootfsDir)
	lower := make([]string, len(spec.Lower))
	for i, l := range spec.Lower {
		lower[len(lower)-1-i] = l // overlayfs lists the top layer first
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		strings.Join(lower, ":"), filepath.Join(dir, upperDir), filepath.Join(dir, workDir))
	// nodev everywhere a container can write (the root, /dev, volumes,
	// tmpfs): a device node it makes with CAP_MKNOD can then not be
	// opened. (There is no device cgroup: on cgroup v2 that is a BPF
	// program, and hosts without v2 must be safe too.)
	nodev := uintptr(unix.MS_NODEV)
	if spec.Privileged {
		nodev = 0
	}
	if err := unix.Mount("overlay", root, "overlay", nodev, opts); err != nil {
		return &stageError{"mount overlay root filesystem", err}
	}
	if err := mountSpecial(spec, root, nodev); err != nil {
		return err
	}
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		if err := bindInto(root, filepath.Join(dir, f), "/etc/"+f, false, nodev); err != nil {
			return err
		}
	}
	for _, m := range spec.Mounts {
		var err error
		if m.Type == "tmpfs" {
			err = tmpfsInto(root, m)
		} else {
			err = bindInto(root, m.Source, m.Destination, m.ReadOnly, nodev)
		}
		if err != nil {
			return err
		}
	}
	if err := pivotRoot(root); err != nil {
		return err
	}
	if !spec.Privileged {
		for _, p := range MaskedPaths {
			if err := maskPath(p); err != nil {
				return err
			}
		}
		for _, p := range ReadonlyPaths {
			if err := readonlyPath(p); err != nil {
				return err
			}
		}
	}
	// The working directory is created (as runc does) before a
	// read-only root would refuse it.
	if cwd := spec.Process.Cwd; cwd != "" {
		if err := os.MkdirAll(cwd, 0o755); err != nil {
			return &stageError{"create working directory " + cwd, err}
		}
	}
	if spec.ReadonlyRootfs {
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return &stageError{"remount / read-only", err}
		}
	}
	return nil
}

type special struct {
	target, fstype, data string
	flags                uintptr
	optional             bool // mounted when the kernel allows, else skipped
}

func mountSpecial(spec *Spec, root string, nodev uintptr) error {
	sysFlags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if !spec.Privileged {
		sysFlags |= unix.MS_RDONLY
	}
	mounts := []special{
		{target: "/proc", fstype: "proc", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{target: "/dev", fstype: "tmpfs", data: "mode=755,size=65536k", flags: unix.MS_NOSUID | unix.MS_STRICTATIME | nodev},
		{target: "/dev/pts", fstype: "devpts", data: "newinstance,ptmxmode=0666,mode=0620,gid=5", flags: unix.MS_NOSUID | unix.MS_NOEXEC},
		{target: "/dev/shm", fstype: "tmpfs", data: "mode=1777,size=65536k", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{target: "/dev/mqueue", fstype: "mqueue", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, optional: true},
		{target: "/sys", fstype: "sysfs", flags: sysFlags},
		{target: "/sys/fs/cgroup", fstype: "cgroup2", flags: sysFlags, optional: true},
	}
	for _, m := range mounts {
		target, err := secureJoin(root, m.target)
		if err != nil {
			return &stageError{"resolve " + m.target, err}
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return &stageError{"create " + m.target, err}
		}
		if err := unix.Mount(m.fstype, target, m.fstype, m.flags, m.data); err != nil {
			if m.optional {
				continue
			}
			return &stageError{"mount " + m.fstype + " on " + m.target, err}
		}
		if m.target == "/dev" {
			if err := populateDev(target, nodev != 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// populateDev provides the standard devices in the container's /dev
// tmpfs. On a nodev /dev they are bind mounts of the host's nodes (a bind
// mount keeps its source's flags); a privileged container's /dev gets
// real nodes. Layers never create device nodes; these are the only ones.
func populateDev(dev string, bind bool) error {
	for _, d := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		p := filepath.Join(dev, d.name)
		if bind {
			if err := makeMountPoint(p, false); err != nil {
				return &stageError{"create /dev/" + d.name, err}
			}
			if err := unix.Mount("/dev/"+d.name, p, "", unix.MS_BIND, ""); err != nil {
				return &stageError{"bind /dev/" + d.name, err}
			}
			continue
		}
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return &stageError{"mknod /dev/" + d.name, err}
		}
		// mknod applies the umask.
		if err := unix.Chmod(p, 0o666); err != nil {
			return &stageError{"chmod /dev/" + d.name, err}
		}
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return &stageError{"symlink /dev/" + name, err}
		}
	}
	return nil
}

// bindInto bind-mounts a host path at a path inside root, creating the
// mount point (a directory or an empty file, like the source), then makes
// it read-only and/or nodev as asked.
func bindInto(root, source, dest string, readOnly bool, nodev uintptr) error {
	st, err := os.Stat(source)
	if err != nil {
		return &stageError{"bind mount " + dest, err}
	}
	target, err := secureJoin(root, dest)
	if err != nil {
		return &stageError{"resolve " + dest, err}
	}
	if err := makeMountPoint(target, st.IsDir()); err != nil {
		return &stageError{"create mount point " + dest, err}
	}
	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &stageError{"bind mount " + source + " on " + dest, err}
	}
	flags := nodev
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	if flags != 0 {
		if err := remountBind(target, flags); err != nil {
			return &stageError{"restrict " + dest, err}
		}
	}
	return nil
}

func tmpfsInto(root string, m Mount) error {
	target, err := secureJoin(root, m.Destination)
	if err != nil {
		return &stageError{"resolve " + m.Destination, err}
	}
	if err := makeMountPoint(target, true); err != nil {
		return &stageError{"create mount point " + m.Destination, err}
	}
	data := "mode=1777"
	if m.SizeBytes > 0 {
		data += fmt.Sprintf(",size=%d", m.SizeBytes)
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	if m.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("tmpfs", target, "tmpfs", flags, data); err != nil {
		return &stageError{"mount tmpfs on " + m.Destination, err}
	}
	return nil
}

func makeMountPoint(target string, dir bool) error {
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// remountBind adds flags (MS_RDONLY, MS_NODEV) to a bind mount, keeping
// the ones the kernel would otherwise refuse to drop (nosuid, nodev,
// noexec, rdonly).
func remountBind(target string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	flags |= unix.MS_BIND | unix.MS_REMOUNT
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_RDONLY, unix.MS_RDONLY},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	return unix.Mount("", target, "", flags, "")
}

// pivotRoot makes root the new / and detaches the old one, so no host
// mount stays reachable from the container.
func pivotRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return &stageError{"chdir to root filesystem", err}
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// unmounting "." then removes the old root without needing a
	// directory to put it in.
	if err := unix.PivotRoot(".", "."); err != nil {
		return &stageError{"pivot_root", err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &stageError{"detach old root", err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &stageError{"chdir /", err}
	}
	return nil
}

// maskPath hides p: a directory under an empty read-only tmpfs, a file
// under /dev/null. A path the kernel does not have is fine.
func maskPath(p string) error {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &stageError{"mask " + p, err}
	}
	if st.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0,mode=555")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return &stageError{"mask " + p, err}
	}
	return nil
}

func readonlyPath(p string) error {
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &stageError{"bind " + p + " read-only", err}
	}
	if err := remountBind(p, unix.MS_RDONLY); err != nil {
		return &stageError{"remount " + p + " read-only", err}
	}
	return nil
}

// secureJoin resolves unsafe inside root as the container would see it:
// symlinks are followed relative to root, and ".." never leaves it. A
// missing component counts as a directory. (A volume another container can
// change at the same time could still race this check; mounts are made
// before the user's process runs, so only such a shared volume could.)
func secureJoin(root, unsafe string) (string, error) {
	parts := strings.Split(unsafe, "/")
	resolved := "/"
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, p)
		st, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, fs.ErrNotExist) {
			// A missing component will be created as a directory; a
			// later ".." comes back to checked ground, so resolution
			// goes on.
			resolved = next
			continue
		}
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		if links > 255 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", unsafe)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return filepath.Join(root, resolved), nil
}
