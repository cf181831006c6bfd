package imagetest

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func imageOf(l v1.Layer) (v1.Image, error) { return mutate.AppendLayers(empty.Image, l) }

// readLayer returns a layer's tar headers by name, in order.
func readLayer(t *testing.T, l v1.Layer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var hdrs []*tar.Header
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, hdr)
	}
}

func TestBusyboxImage(t *testing.T) {
	img := Busybox(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Cmd, []string{"sh"}) || !slices.Equal(cf.Config.Env, BusyboxEnv) || cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("config = %+v (os %s, arch %s)", cf.Config, cf.OS, cf.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want one", len(layers), err)
	}
	byName := map[string]*tar.Header{}
	for _, h := range readLayer(t, layers[0]) {
		byName[strings.TrimSuffix(h.Name, "/")] = h
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, Epoch)
		}
	}
	if h := byName["bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode != 0o755 || h.Size == 0 {
		t.Errorf("bin/busybox = %+v", h)
	}
	for _, applet := range []string{"sh", "true", "false", "sleep", "cat", "echo", "ls", "id", "hostname", "ps", "mount",
		"env", "pwd", "touch", "mkdir", "rm", "grep", "wc", "head", "tail", "kill", "nc", "wget", "date", "sync",
		"uname", "whoami", "stat", "readlink", "test", "["} {
		if h := byName["bin/"+applet]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("bin/%s = %+v, want a symlink to busybox", applet, h)
		}
	}
	if h := byName["tmp"]; h == nil || h.Typeflag != tar.TypeDir || h.Mode != 0o1777 {
		t.Errorf("tmp = %+v, want a 1777 directory", h)
	}
	for _, d := range []string{"root", "proc", "sys", "dev", "etc", "var"} {
		if h := byName[d]; h == nil || h.Typeflag != tar.TypeDir {
			t.Errorf("%s = %+v, want a directory", d, h)
		}
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "etc/passwd" || h.Name == "etc/group" {
			b, _ := io.ReadAll(tr)
			files[h.Name] = string(b)
		}
	}
	if p := files["etc/passwd"]; !strings.HasPrefix(p, "root:x:0:0:") || !strings.Contains(p, "\nnobody:x:65534:65534:") {
		t.Errorf("etc/passwd = %q", p)
	}
	if g := files["etc/group"]; !strings.HasPrefix(g, "root:x:0:") || !strings.Contains(g, "\nnogroup:x:65534:") {
		t.Errorf("etc/group = %q", g)
	}

	// Built again from scratch, the image is the same, digest for digest.
	busybox.mu.Lock()
	busybox.img = nil
	busybox.mu.Unlock()
	again, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	d1, err1 := img.Digest()
	d2, err2 := again.Digest()
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Errorf("digests differ between builds: %v (%v) and %v (%v)", d1, err1, d2, err2)
	}
}

func TestStaticELFArchRefusesDynamicBinaries(t *testing.T) {
	exe, err := os.Executable() // a test binary: dynamically linked only with cgo, so try a system tool too
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/bin/ls", "/usr/bin/env", exe} {
		bin, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, err := staticELFArch(bin); err != nil {
			if !strings.Contains(err.Error(), "dynamically linked") {
				t.Errorf("%s: %v", p, err)
			}
			return
		}
	}
	t.Skip("no dynamically linked binary found on this host")
}

func TestRegistryPush(t *testing.T) {
	l, err := LayerFromEntries([]Entry{{Name: "hello", Body: "world"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageOf(l)
	if err != nil {
		t.Fatal(err)
	}
	host := Registry(t)
	ref := Push(t, host, "hello", img)
	if ref != host+"/hello:latest" {
		t.Errorf("Push = %q, want %s/hello:latest", ref, host)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, err := got.Digest(); err != nil || d != want {
		t.Errorf("pulled digest %v (%v), pushed %v", d, err, want)
	}
}

func TestLayerFromEntries(t *testing.T) {
	l, err := LayerFromEntries([]Entry{
		{Name: "../escape", Body: "x"},
		{Name: "dir/", Type: tar.TypeDir},
		{Name: "link", Type: tar.TypeSymlink, Linkname: "/etc"},
		{Name: "hard", Type: tar.TypeLink, Linkname: "../../etc/passwd"},
		{Name: "suid", Body: "s", Mode: 0o4755, Uid: 1, Gid: 2, Xattrs: map[string]string{"user.k": "v"}},
		{Name: "null", Type: tar.TypeChar},
	})
	if err != nil {
		t.Fatal(err)
	}
	hdrs := readLayer(t, l)
	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
	}
	if want := []string{"../escape", "dir/", "link", "hard", "suid", "null"}; !slices.Equal(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	if h := hdrs[3]; h.Typeflag != tar.TypeLink || h.Linkname != "../../etc/passwd" {
		t.Errorf("hard = %+v", h)
	}
	if h := hdrs[4]; h.Mode != 0o4755 || h.Uid != 1 || h.Gid != 2 || h.PAXRecords["SCHILY.xattr.user.k"] != "v" {
		t.Errorf("suid = %+v", h)
	}
	if h := hdrs[1]; h.Mode != 0o755 {
		t.Errorf("dir mode = %o, want 755", h.Mode)
	}
}

func TestWriteDockerArchive(t *testing.T) {
	l, err := LayerFromEntries([]Entry{{Name: "f", Body: "archive"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageOf(l)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteDockerArchive(p, "docker.io/library/test:1", img); err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || len(m[0].RepoTags) != 1 {
		t.Fatalf("manifest.json = %+v", m)
	}
	tag, err := name.NewTag(m[0].RepoTags[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := tarball.ImageFromPath(p, &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if c, err := got.ConfigName(); err != nil || c != want {
		t.Errorf("config %v (%v), want %v", c, err, want)
	}
}
