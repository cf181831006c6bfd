package imagetest

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// BusyboxPath is where BusyboxImage takes busybox from: Debian's
// busybox-static package installs a statically linked one there.
const BusyboxPath = "/bin/busybox"

// busyboxApplets get a symlink to busybox in the image's /bin.
var busyboxApplets = []string{
	"[", "[[", "ash", "awk", "basename", "cat", "chmod", "chown", "cp", "cut",
	"date", "dd", "df", "dirname", "du", "echo", "env", "expr", "false", "find",
	"free", "grep", "head", "hostname", "httpd", "id", "ip", "kill", "ln", "ls", "mkdir",
	"mktemp", "mount", "mv", "nc", "nproc", "nslookup", "ping", "printf", "ps",
	"pwd", "readlink", "realpath", "rm", "rmdir", "sed", "seq", "sh",
	"sha256sum", "sleep", "sort", "stat", "sync", "tail", "tee", "test",
	"timeout", "top", "touch", "tr", "true", "umount", "uname", "uniq", "wc",
	"wget", "which", "whoami", "xargs", "yes",
}

// BusyboxEnv is the busybox image's environment.
var BusyboxEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

var busybox struct {
	mu  sync.Mutex
	img v1.Image
}

// BusyboxImage returns a single-layer image made from the host's static
// busybox at BusyboxPath: /bin/busybox, a /bin symlink per common applet
// (sh, ls, cat, sleep, nc, wget, ...), /etc/passwd and /etc/group with root
// and nobody, and empty /dev, /proc, /sys, /tmp (1777), /root, /var. Its
// Cmd is ["sh"]. Every time is fixed, so its digest depends only on the
// busybox binary. It fails if busybox is missing or dynamically linked.
func BusyboxImage() (v1.Image, error) {
	busybox.mu.Lock()
	defer busybox.mu.Unlock()
	if busybox.img != nil {
		return busybox.img, nil
	}
	img, err := BusyboxImageFrom(BusyboxPath)
	if err != nil {
		return nil, err
	}
	busybox.img = img
	return img, nil
}

// BusyboxImageFrom is BusyboxImage with busybox taken from path.
func BusyboxImageFrom(path string) (v1.Image, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w (install Debian's busybox-static)", err)
	}
	arch, err := staticELFArch(bin)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %s: %w (install Debian's busybox-static)", path, err)
	}
	tarBytes, err := busyboxTar(bin)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	layer, err := layerFromTar(tarBytes)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = v1.Time{Time: Epoch}
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = append([]string{}, BusyboxEnv...)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("busybox image: %w", err)
	}
	return img, nil
}

// Busybox is BusyboxImage for tests: it skips the test when busybox is not
// installed and fails it on any other error.
func Busybox(t testing.TB) v1.Image {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is missing: install Debian's busybox-static (apt-get install busybox-static)", BusyboxPath)
	}
	img, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// staticELFArch returns the GOARCH-style architecture of a statically linked
// ELF executable; a dynamically linked one (it has an interpreter) is an
// error, since the image has no libraries for it.
func staticELFArch(bin []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", errors.New("dynamically linked")
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	case elf.EM_386:
		return "386", nil
	case elf.EM_ARM:
		return "arm", nil
	case elf.EM_RISCV:
		return "riscv64", nil
	case elf.EM_PPC64:
		return "ppc64le", nil
	case elf.EM_S390:
		return "s390x", nil
	}
	return runtime.GOARCH, nil
}

func busyboxTar(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: Epoch, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: Epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"proc", 0o555}, {"root", 0o700}, {"sys", 0o555}, {"tmp", 0o1777}, {"var", 0o755}} {
		if err := dir(d.name, d.mode); err != nil {
			return nil, err
		}
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return nil, err
	}
	for _, a := range busyboxApplets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: Epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
