package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// guestInit is the guest's /init.
//
//go:embed guest/init
var guestInit []byte

// guest is what an initramfs holds besides its fixed layout.
type guest struct {
	// busybox is a static busybox on the host; the guest's every command.
	busybox string
	// kernel is the kernel's version, naming /lib/modules/<kernel>.
	kernel string
	// modules are the kernel modules to load, by name ("overlay"); with
	// their dependencies, and nothing for those built into the kernel.
	modules []string
	// tests are the test binaries on the host, run in this order by their
	// base names.
	tests []string
	// token starts every marker line the guest prints, after "SHEPHERD-VM".
	token string
}

// writeInitramfs writes g as a gzip-compressed newc cpio archive:
//
//	/init                 guest/init
//	/bin/busybox          (the applets' links are made at boot)
//	/dev/console, /dev/null
//	/etc/passwd, group, hosts
//	/lib/modules/<kernel>/...ko   decompressed: busybox insmod takes plain .ko only
//	/shepherd-vm/<name>.test      the test binaries
//	/shepherd-vm/tests            their names, one a line
//	/shepherd-vm/modules          the modules' paths, in load order
//	/shepherd-vm/token
func writeInitramfs(name string, g guest) (err error) {
	modDir := filepath.Join("/lib/modules", g.kernel)
	mods, err := moduleLoadOrder(modDir, g.modules)
	if err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	// Fastest: the archive is made afresh for every boot, and the guest's
	// gunzip costs the same whatever the level.
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	a := &archive{w: &newcWriter{w: gz}, dirs: map[string]bool{}}

	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "dev", "etc", "proc", "sys", "root", "run", "shepherd-vm"} {
		a.dir(d, 0o755)
	}
	a.dir("tmp", 0o777|fs.ModeSticky)
	a.w.Bytes("init", 0o755, guestInit)
	a.w.CharDev("dev/console", 0o600, 5, 1)
	a.w.CharDev("dev/null", 0o666, 1, 3)
	a.w.Bytes("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	a.w.Bytes("etc/group", 0o644, []byte("root:x:0:\n"))
	a.w.Bytes("etc/hosts", 0o644, []byte("127.0.0.1\tlocalhost shepherd-vm\n::1\tlocalhost\n"))
	if err := a.hostFile("bin/busybox", g.busybox, 0o755); err != nil {
		return err
	}

	var loads []string
	for _, rel := range mods {
		data, err := readModule(filepath.Join(modDir, rel))
		if err != nil {
			return err
		}
		dst := path.Join("lib/modules", g.kernel, plainModuleName(rel))
		a.parents(dst)
		a.w.Bytes(dst, 0o644, data)
		loads = append(loads, "/"+dst)
	}
	a.w.Bytes("shepherd-vm/modules", 0o644, lines(loads))

	var names []string
	for _, t := range g.tests {
		n := filepath.Base(t)
		if err := a.hostFile("shepherd-vm/"+n, t, 0o755); err != nil {
			return err
		}
		names = append(names, n)
	}
	a.w.Bytes("shepherd-vm/tests", 0o644, lines(names))
	a.w.Bytes("shepherd-vm/token", 0o644, []byte(g.token+"\n"))

	if err := a.w.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// archive adds directories to a newc archive before the entries in them.
type archive struct {
	w    *newcWriter
	dirs map[string]bool
}

func (a *archive) dir(name string, perm fs.FileMode) {
	a.parents(name)
	if !a.dirs[name] {
		a.dirs[name] = true
		a.w.Dir(name, perm)
	}
}

// parents adds the directories above name.
func (a *archive) parents(name string) {
	if d := path.Dir(name); d != "." {
		a.dir(d, 0o755)
	}
}

func (a *archive) hostFile(name, src string, perm fs.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	a.parents(name)
	a.w.File(name, perm, fi.Size(), f)
	return a.w.err
}

func lines(ss []string) []byte {
	if len(ss) == 0 {
		return nil
	}
	return []byte(strings.Join(ss, "\n") + "\n")
}

// moduleLoadOrder returns the paths, relative to modDir, of the named
// modules and the modules they depend on, each after its dependencies, as
// modDir's modules.dep has them. Modules in modules.builtin need no file.
func moduleLoadOrder(modDir string, names []string) ([]string, error) {
	deps, err := readModulesDep(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(modDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[moduleName(l)] = true
		}
	}
	byName := map[string]string{}
	for p := range deps {
		byName[moduleName(p)] = p
	}
	var order []string
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		for _, d := range deps[p] {
			visit(d)
		}
		order = append(order, p)
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		p, ok := byName[n]
		switch {
		case ok:
			visit(p)
		case builtin[n]:
		default:
			return nil, fmt.Errorf("kernel module %s is neither in %s/modules.dep nor built in", n, modDir)
		}
	}
	return order, nil
}

// readModulesDep parses modules.dep: "kernel/a/b.ko: kernel/c.ko kernel/d.ko".
func readModulesDep(name string) (map[string][]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, sc.Err()
}

// moduleName is a module's name from its path, "-" spelt "_" as the kernel
// does: kernel/fs/overlayfs/overlay.ko.xz is overlay.
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// plainModuleName drops a compression suffix: x.ko.xz is x.ko.
func plainModuleName(p string) string {
	i := strings.LastIndex(p, ".ko")
	if i < 0 {
		return p
	}
	return p[:i+len(".ko")]
}

// readModule reads a module file, decompressing .ko.gz in Go and .ko.xz
// and .ko.zst with the xz and zstd commands (Go has neither format).
func readModule(name string) ([]byte, error) {
	switch {
	case strings.HasSuffix(name, ".ko"):
		return os.ReadFile(name)
	case strings.HasSuffix(name, ".ko.gz"):
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(name, ".ko.xz"):
		return decompress(name, "xz", "xz-utils")
	case strings.HasSuffix(name, ".ko.zst"):
		return decompress(name, "zstd", "zstd")
	}
	return nil, fmt.Errorf("%s: unknown kernel module compression", name)
}

func decompress(name, tool, pkg string) ([]byte, error) {
	if _, err := exec.LookPath(tool); err != nil {
		return nil, fmt.Errorf("%s: decompressing needs %s: install Debian's %s", name, tool, pkg)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tool, "-dc", name)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -dc %s: %w: %s", tool, name, err, stderr.Bytes())
	}
	if len(out) == 0 {
		return nil, errors.New(tool + " -dc " + name + ": no output")
	}
	return out, nil
}

func TestModuleLoadOrder(t *testing.T) {
	dir := t.TempDir()
	dep := "kernel/fs/overlayfs/overlay.ko:\n" +
		"kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz\n" +
		"kernel/net/802/stp.ko.xz: kernel/net/llc/llc.ko.xz\n" +
		"kernel/net/llc/llc.ko.xz:\n" +
		"kernel/drivers/net/nlmon-x.ko:\n"
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/fs/ext4/ext4.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := moduleLoadOrder(dir, []string{"bridge", "overlay", "ext4", "llc", "nlmon_x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel/net/llc/llc.ko.xz", "kernel/net/802/stp.ko.xz", "kernel/net/bridge/bridge.ko.xz", "kernel/fs/overlayfs/overlay.ko", "kernel/drivers/net/nlmon-x.ko"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("load order %q, want %q", got, want)
	}
	if _, err := moduleLoadOrder(dir, []string{"nosuch"}); err == nil {
		t.Error("an unknown module was accepted")
	}
	if got := plainModuleName("kernel/net/llc/llc.ko.xz"); got != "kernel/net/llc/llc.ko" {
		t.Errorf("plainModuleName = %q", got)
	}
}
