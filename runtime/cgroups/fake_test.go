package cgroups

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fakeFS is a cgroupfs on a temporary directory that keeps the kernel rules
// the package relies on:
//   - a new cgroup's cgroup.controllers is its parent's cgroup.subtree_control;
//   - "+c" in cgroup.subtree_control needs c in cgroup.controllers (else
//     ENOENT) and, below the mount, no processes in the cgroup (else EBUSY);
//   - a controller's interface files (memory.max) exist only with it;
//   - rmdir fails with EBUSY for a populated cgroup or one with children.
//
// It records every write, relative to the mount.
type fakeFS struct {
	t     *testing.T
	mount string
	// kill gives new cgroups cgroup.kill. Without it Kill signals the pids
	// in cgroup.procs for real: such a fake must hold no pids when killed.
	kill   bool
	refuse map[string]bool // controllers whose "+c" fails with EINVAL
	writes []fakeWrite
}

type fakeWrite struct{ file, data string }

// newFake makes a fake cgroup2 mount whose root offers controllers
// (space-separated, as cgroup.controllers).
func newFake(t *testing.T, controllers string, kill bool) *fakeFS {
	t.Helper()
	f := &fakeFS{t: t, mount: t.TempDir(), kill: kill, refuse: map[string]bool{}}
	f.put(".", "cgroup.controllers", controllers+"\n")
	f.put(".", "cgroup.subtree_control", "\n")
	f.put(".", "cgroup.procs", "1\n")
	f.put(".", "cpu.stat", "usage_usec 0\n")
	return f
}

// host is what open needs to use the fake, with a mountinfo that has no
// cgroup2 entry unless the test writes one.
func (f *fakeFS) host(mountinfo string) host {
	name := filepath.Join(f.t.TempDir(), "mountinfo")
	if err := os.WriteFile(name, []byte(mountinfo), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return host{mountinfo: name, fs: f}
}

func (f *fakeFS) path(rel string) string { return filepath.Join(f.mount, rel) }

func (f *fakeFS) put(dir, file, data string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.path(dir), file), []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeFS) get(dir, file string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.path(dir), file))
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (f *fakeFS) exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(f.path(dir), file))
	return err == nil
}

// writesTo returns what was written to file (relative to the mount), in
// order.
func (f *fakeFS) writesTo(file string) []string {
	var out []string
	for _, w := range f.writes {
		if w.file == file {
			out = append(out, w.data)
		}
	}
	return out
}

func (f *fakeFS) Mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	parent, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	files := map[string]string{
		"cgroup.controllers":     string(parent),
		"cgroup.subtree_control": "\n",
		"cgroup.procs":           "",
		"cgroup.events":          "populated 0\nfrozen 0\n",
		"cgroup.freeze":          "0\n",
		"cpu.stat":               "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
	}
	if f.kill {
		files["cgroup.kill"] = ""
	}
	for c := range strings.FieldsSeq(string(parent)) {
		switch c {
		case "memory":
			files["memory.current"] = "0\n"
			files["memory.max"] = "max\n"
			files["memory.high"] = "max\n"
			files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
			files["memory.stat"] = "anon 0\nfile 0\ninactive_file 0\n"
		case "cpu":
			files["cpu.weight"] = "100\n"
			files["cpu.max"] = "max 100000\n"
		case "pids":
			files["pids.max"] = "max\n"
			files["pids.current"] = "0\n"
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeFS) Rmdir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, e := range entries {
		if e.IsDir() || len(strings.TrimSpace(string(procs))) > 0 {
			return &fs.PathError{Op: "rmdir", Path: dir, Err: syscall.EBUSY}
		}
	}
	return os.RemoveAll(dir)
}

func (f *fakeFS) WriteFile(name, data string) error {
	rel, err := filepath.Rel(f.mount, name)
	if err != nil || strings.HasPrefix(rel, "..") {
		f.t.Fatalf("write outside the fake mount: %s", name)
	}
	f.writes = append(f.writes, fakeWrite{rel, data})
	dir, file := filepath.Split(name)
	if _, err := os.Stat(name); err != nil {
		return err // like cgroupfs: no such interface file, no creating one
	}
	switch file {
	case "cgroup.subtree_control":
		return f.subtreeControl(dir, name, data)
	case "cgroup.procs":
		sub, _ := readSet(filepath.Join(dir, "cgroup.subtree_control"))
		if len(sub) > 0 && filepath.Clean(dir) != f.mount {
			return &fs.PathError{Op: "write", Path: name, Err: syscall.EBUSY}
		}
		old, _ := os.ReadFile(name)
		return os.WriteFile(name, append(old, data+"\n"...), 0o644)
	case "cgroup.kill":
		return os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644)
	}
	return os.WriteFile(name, []byte(data), 0o644)
}

func (f *fakeFS) subtreeControl(dir, name, data string) error {
	offered, err := readSet(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	enabled, err := readSet(name)
	if err != nil {
		return err
	}
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for tok := range strings.FieldsSeq(data) {
		c := tok[1:]
		switch {
		case !offered[c]:
			return &fs.PathError{Op: "write", Path: name, Err: syscall.ENOENT}
		case f.refuse[c]:
			return &fs.PathError{Op: "write", Path: name, Err: syscall.EINVAL}
		case tok[0] == '+' && len(strings.TrimSpace(string(procs))) > 0 && filepath.Clean(dir) != f.mount:
			return &fs.PathError{Op: "write", Path: name, Err: syscall.EBUSY}
		case tok[0] == '+':
			enabled[c] = true
		case tok[0] == '-':
			delete(enabled, c)
		default:
			return &fs.PathError{Op: "write", Path: name, Err: syscall.EINVAL}
		}
	}
	list := make([]string, 0, len(enabled))
	for c := range enabled {
		list = append(list, c)
	}
	slices.Sort(list)
	return os.WriteFile(name, []byte(strings.Join(list, " ")+"\n"), 0o644)
}

func TestFakeFollowsKernelRules(t *testing.T) {
	// The fake is only worth the tests that use it if it refuses what the
	// kernel refuses.
	f := newFake(t, "cpu memory", true)
	if err := f.WriteFile(f.path("cgroup.subtree_control"), "+pids"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("+pids not offered: got %v, want ENOENT", err)
	}
	if err := f.WriteFile(f.path("cgroup.subtree_control"), "+memory"); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir(f.path("a")); err != nil {
		t.Fatal(err)
	}
	if got := f.get("a", "cgroup.controllers"); got != "memory" {
		t.Errorf("a/cgroup.controllers = %q, want the parent's subtree_control %q", got, "memory")
	}
	if err := f.WriteFile(f.path("a/cpu.max"), "max 100000"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cpu.max without cpu: got %v, want ENOENT", err)
	}
	if err := f.WriteFile(f.path("a/cgroup.procs"), "42"); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(f.path("a/cgroup.subtree_control"), "+memory"); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("+memory in a populated cgroup: got %v, want EBUSY", err)
	}
	if err := f.Rmdir(f.path("a")); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("rmdir of a populated cgroup: got %v, want EBUSY", err)
	}
}
