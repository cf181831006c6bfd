package image

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// unpack puts a layer built from entries into s and returns its fs dir.
func unpack(t *testing.T, s *Store, entries []imagetest.Entry) (string, error) {
	t.Helper()
	l, err := imagetest.LayerFromEntries(entries)
	if err != nil {
		t.Fatal(err)
	}
	diffID, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ensureLayer(testContext(t), l, diffID); err != nil {
		return "", err
	}
	return s.layerFS(diffID), nil
}

func TestUnsafeLayersAreRefused(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	// A layer unpacks at <base>/store/tmp/<dir>/fs: four levels up is base.
	const up = "../../../../"

	tests := []struct {
		name    string
		entries []imagetest.Entry
		entry   string // the entry the error must name
	}{
		{
			name:    "dot-dot",
			entries: []imagetest.Entry{{Name: "../escape", Body: "x"}},
			entry:   "../escape",
		},
		{
			name:    "dot-dot to a sentinel dir",
			entries: []imagetest.Entry{{Name: up + "outside/escape", Body: "x"}},
			entry:   up + "outside/escape",
		},
		{
			name:    "dot-dot inside a name",
			entries: []imagetest.Entry{{Name: "a/../../escape", Body: "x"}},
			entry:   "a/../../escape",
		},
		{
			name:    "absolute",
			entries: []imagetest.Entry{{Name: "/etc/evil", Body: "x"}},
			entry:   "/etc/evil",
		},
		{
			name:    "absolute into the sentinel dir",
			entries: []imagetest.Entry{{Name: outside + "/evil", Body: "x"}},
			entry:   outside + "/evil",
		},
		{
			name: "file through an absolute symlink",
			entries: []imagetest.Entry{
				{Name: "link", Type: tar.TypeSymlink, Linkname: outside},
				{Name: "link/file", Body: "x"},
			},
			entry: "link/file",
		},
		{
			name: "directory through a symlink",
			entries: []imagetest.Entry{
				{Name: "link", Type: tar.TypeSymlink, Linkname: outside},
				{Name: "link/dir/", Type: tar.TypeDir},
			},
			entry: "link/dir/",
		},
		{
			name: "file through a dot-dot symlink chain",
			entries: []imagetest.Entry{
				{Name: "a", Type: tar.TypeSymlink, Linkname: ".."},
				{Name: "b", Type: tar.TypeSymlink, Linkname: "a/../../../outside"},
				{Name: "b/file", Body: "x"},
			},
			entry: "b/file",
		},
		{
			name: "symlink replaces a directory, then a file goes through it",
			entries: []imagetest.Entry{
				{Name: "d/", Type: tar.TypeDir},
				{Name: "d", Type: tar.TypeSymlink, Linkname: outside},
				{Name: "d/file", Body: "x"},
			},
			entry: "d/file",
		},
		{
			name: "hardlink with dot-dot",
			entries: []imagetest.Entry{
				{Name: "passwd", Type: tar.TypeLink, Linkname: "../../etc/passwd"},
			},
			entry: "passwd",
		},
		{
			name: "absolute hardlink",
			entries: []imagetest.Entry{
				{Name: "passwd", Type: tar.TypeLink, Linkname: "/etc/passwd"},
			},
			entry: "passwd",
		},
		{
			name: "hardlink through a symlink",
			entries: []imagetest.Entry{
				{Name: "etc", Type: tar.TypeSymlink, Linkname: "/etc"},
				{Name: "passwd", Type: tar.TypeLink, Linkname: "etc/passwd"},
			},
			entry: "passwd",
		},
		{
			name:    "whiteout of dot-dot",
			entries: []imagetest.Entry{{Name: "a/.wh..."}},
			entry:   "a/.wh...",
		},
		{
			name:    "file as the layer root",
			entries: []imagetest.Entry{{Name: ".", Body: ""}},
			entry:   ".",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.entry, "/etc/") {
				if _, err := os.Lstat(tt.entry); err == nil {
					t.Skipf("%s exists on this host", tt.entry)
				}
			}
			store := filepath.Join(base, "store")
			os.RemoveAll(store)
			s, err := Open(store, Options{Log: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = unpack(t, s, tt.entries)
			t.Logf("unpack: %v", err)
			if !errors.Is(err, ErrUnsafeLayer) {
				t.Fatalf("unpack = %v, want ErrUnsafeLayer", err)
			}
			if !strings.Contains(err.Error(), `"`+tt.entry+`"`) {
				t.Errorf("error %q does not name entry %q", err, tt.entry)
			}
			if names := dirNames(t, outside); len(names) != 0 {
				t.Errorf("created outside the store: %v", names)
			}
			if _, err := os.Lstat(filepath.Join(base, "escape")); err == nil {
				t.Errorf("created %s", filepath.Join(base, "escape"))
			}
			if _, err := os.Lstat("/etc/evil"); err == nil && tt.entry == "/etc/evil" {
				t.Errorf("created /etc/evil")
			}
			assertNothingStored(t, s)
		})
	}
}

func TestLayerSemantics(t *testing.T) {
	requireRoot(t)
	s := openStore(t, Options{})
	fs, err := unpack(t, s, []imagetest.Entry{
		{Name: "./", Type: tar.TypeDir, Mode: 0o755},
		{Name: ".wh.gone"},
		{Name: "opaque/", Type: tar.TypeDir},
		{Name: "opaque/.wh..wh..opq"},
		{Name: "opaque/kept", Body: "kept"},
		{Name: "dev/null0", Type: tar.TypeChar},
		{Name: "dev/sda0", Type: tar.TypeBlock},
		{Name: "fifo", Type: tar.TypeFifo},
		{Name: "bin/suid", Body: "#!/bin/sh\n", Mode: 0o4755},
		{Name: "bin/sgid", Body: "#!/bin/sh\n", Mode: 0o2711, Gid: 42},
		{Name: "owned", Body: "mine", Mode: 0o640, Uid: 1000, Gid: 2000},
		{Name: "owned-link", Type: tar.TypeSymlink, Linkname: "owned", Uid: 1001, Gid: 2001},
		{Name: "hard", Type: tar.TypeLink, Linkname: "owned"},
		{Name: "late/file", Body: "before its directory"},
		{Name: "late/", Type: tar.TypeDir, Mode: 0o700, Uid: 5, Gid: 6},
		{Name: "dup", Body: "first"},
		{Name: "dup", Body: "second"},
		{Name: "was-dir/", Type: tar.TypeDir},
		{Name: "was-dir/inner", Body: "x"},
		{Name: "was-dir", Body: "now a file"},
		{Name: "xattr", Body: "x", Xattrs: map[string]string{"user.shepherd": "yes", "trusted.overlay.redirect": "/etc"}},
		{Name: "sticky/", Type: tar.TypeDir, Mode: 0o1777},
	})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(fs, "gone"), &st); err != nil {
		t.Fatalf("whiteout: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("whiteout: mode %o rdev %d owner %d:%d; want a 0:0 char device owned by 0:0", st.Mode, st.Rdev, st.Uid, st.Gid)
	}
	if _, err := os.Lstat(filepath.Join(fs, ".wh.gone")); err == nil {
		t.Error(".wh.gone was created as a file")
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(fs, "opaque"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque dir: trusted.overlay.opaque = %q, %v; want y", buf[:n], err)
	}
	if b, err := os.ReadFile(filepath.Join(fs, "opaque/kept")); err != nil || string(b) != "kept" {
		t.Errorf("opaque/kept = %q, %v", b, err)
	}
	for _, p := range []string{"dev/null0", "dev/sda0", "fifo", "opaque/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(fs, p)); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	checkMode := func(p string, want os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(fs, p))
		if err != nil {
			t.Error(err)
			return
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	checkOwner := func(p string, uid, gid uint32) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(fs, p), &st); err != nil {
			t.Error(err)
			return
		}
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
	checkMode("bin/suid", os.ModeSetuid|0o755)
	checkMode("bin/sgid", os.ModeSetgid|0o711)
	checkOwner("bin/sgid", 0, 42)
	checkMode("owned", 0o640)
	checkOwner("owned", 1000, 2000)
	checkOwner("owned-link", 1001, 2001)
	checkMode("late", os.ModeDir|0o700)
	checkOwner("late", 5, 6)
	checkMode("sticky", os.ModeDir|os.ModeSticky|0o777)
	checkMode(".", os.ModeDir|0o755)

	var a, b unix.Stat_t
	if unix.Lstat(filepath.Join(fs, "owned"), &a) != nil || unix.Lstat(filepath.Join(fs, "hard"), &b) != nil || a.Ino != b.Ino {
		t.Error("hard is not a hardlink of owned")
	}
	if b, err := os.ReadFile(filepath.Join(fs, "late/file")); err != nil || string(b) != "before its directory" {
		t.Errorf("late/file = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(fs, "dup")); err != nil || string(b) != "second" {
		t.Errorf("dup = %q, %v; want the later entry", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(fs, "was-dir")); err != nil || string(b) != "now a file" {
		t.Errorf("was-dir = %q, %v; want the later file", b, err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(fs, "xattr"), "user.shepherd", buf); err != nil || string(buf[:n]) != "yes" {
		t.Errorf("xattr user.shepherd = %q, %v; want yes", buf[:n], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(fs, "xattr"), "trusted.overlay.redirect", buf); err == nil {
		t.Error("a layer's trusted.overlay.redirect xattr was applied")
	}
	for _, p := range []string{"owned", "late", "opaque", "."} {
		fi, err := os.Lstat(filepath.Join(fs, p))
		if err != nil {
			t.Error(err)
			continue
		}
		if !fi.ModTime().Equal(imagetest.Epoch) {
			t.Errorf("%s: mtime %v, want %v", p, fi.ModTime().UTC().Format(time.RFC3339), imagetest.Epoch)
		}
	}
}
