package image

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

func TestImportDockerArchive(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	dir := t.TempDir()

	t.Run("single image", func(t *testing.T) {
		archive := filepath.Join(dir, "busybox.tar")
		if err := imagetest.WriteDockerArchive(archive, "busybox:1.36", busybox); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, Options{})
		imgs, err := s.Import(testContext(t), archive)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 || imgs[0].ID != configID(t, busybox) || !slices.Equal(imgs[0].RepoTags, []string{"docker.io/library/busybox:1.36"}) {
			t.Fatalf("Import = %+v", imgs)
		}
		got, err := s.Get("busybox:1.36")
		if err != nil {
			t.Fatal(err)
		}
		dirs, err := s.LayerDirs(got)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(filepath.Join(dirs[0], "bin/busybox")); err != nil || fi.Mode() != 0o755 {
			t.Errorf("bin/busybox: %v, %v", fi, err)
		}
	})

	t.Run("several images and tags", func(t *testing.T) {
		small := smallImage(t, "small", "small")
		refs := map[name.Reference]v1.Image{}
		for tag, img := range map[string]v1.Image{
			"busybox:latest":               busybox,
			"quay.io/shepherd/busybox:1.0": busybox,
			"example.com:5000/small:v1":    small,
		} {
			ref, err := name.NewTag(tag)
			if err != nil {
				t.Fatal(err)
			}
			refs[ref] = img
		}
		archive := filepath.Join(dir, "many.tar")
		if err := tarball.MultiRefWriteToFile(archive, refs); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, Options{})
		imgs, err := s.Import(testContext(t), archive)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 2 {
			t.Fatalf("Import returned %d images, want 2", len(imgs))
		}
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"docker.io/library/busybox:latest", "quay.io/shepherd/busybox:1.0"},
			{"example.com:5000/small:v1"},
		}
		if len(list) != 2 || !slices.Equal(list[0].RepoTags, want[0]) || !slices.Equal(list[1].RepoTags, want[1]) {
			t.Errorf("List tags = %v / %v, want %v", list[0].RepoTags, list[1].RepoTags, want)
		}
	})
}

// TestImportUncompressedDockerSave imports an archive laid out as `docker
// save` writes one (uncompressed layer.tar files), which go-containerregistry's
// writer does not produce.
func TestImportUncompressedDockerSave(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	raw, err := busybox.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := busybox.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	layerTar, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(configID(t, busybox), "sha256:")
	files := []struct {
		name string
		body []byte
	}{
		{id + ".json", raw},
		{"0123abcd/layer.tar", layerTar},
		{"0123abcd/VERSION", []byte("1.0")},
		{"manifest.json", []byte(`[{"Config":"` + id + `.json","RepoTags":["busybox:saved"],"Layers":["0123abcd/layer.tar"]}]`)},
		{"repositories", []byte(`{"busybox":{"saved":"0123abcd"}}`)},
	}
	archive := filepath.Join(t.TempDir(), "saved.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, file := range files {
		if err := tw.WriteHeader(&tar.Header{Name: file.name, Mode: 0o644, Size: int64(len(file.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(file.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, Options{})
	imgs, err := s.Import(testContext(t), archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].ID != configID(t, busybox) || !slices.Equal(imgs[0].RepoTags, []string{"docker.io/library/busybox:saved"}) {
		t.Fatalf("Import = %+v", imgs)
	}
	if imgs[0].Size != int64(len(layerTar)) {
		t.Errorf("Size = %d, want the layer.tar's %d", imgs[0].Size, len(layerTar))
	}
	dirs, err := s.LayerDirs(imgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Readlink(filepath.Join(dirs[0], "bin/sh")); err != nil {
		t.Errorf("bin/sh: %v", err)
	}
}

func TestImportOCILayout(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	small := smallImage(t, "small", "small")
	untagged := smallImage(t, "untagged", "untagged")
	dir := filepath.Join(t.TempDir(), "myimages")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		img v1.Image
		ref string
	}{
		{busybox, "docker.io/library/busybox:latest"},
		{small, "1.0"}, // a bare tag: the layout's name is the repository
		{untagged, ""},
	} {
		var opts []layout.Option
		if a.ref != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": a.ref}))
		}
		if err := lp.AppendImage(a.img, opts...); err != nil {
			t.Fatal(err)
		}
	}
	archive := filepath.Join(t.TempDir(), "myimages.tar")
	if err := tarDir(dir, archive); err != nil {
		t.Fatal(err)
	}

	for _, src := range []struct{ name, path string }{{"directory", dir}, {"tar", archive}} {
		t.Run(src.name, func(t *testing.T) {
			s := openStore(t, Options{})
			imgs, err := s.Import(testContext(t), src.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 3 {
				t.Fatalf("Import returned %d images, want 3", len(imgs))
			}
			for _, c := range []struct {
				img  v1.Image
				tags []string
			}{
				{busybox, []string{"docker.io/library/busybox:latest"}},
				{small, []string{"docker.io/library/myimages:1.0"}},
				{untagged, nil},
			} {
				got, err := s.Get(configID(t, c.img))
				if err != nil {
					t.Error(err)
					continue
				}
				if !slices.Equal(got.RepoTags, c.tags) {
					t.Errorf("image %s: RepoTags = %v, want %v", got.ID, got.RepoTags, c.tags)
				}
			}
			if names := dirNames(t, s.tmpDir()); len(names) != 0 {
				t.Errorf("tmp/ holds %v after the import", names)
			}
		})
	}
}

func TestImportRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notTar, []byte(strings.Repeat("not a tar archive\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyTar := filepath.Join(dir, "empty.tar")
	if err := tarDir(t.TempDir(), emptyTar); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Options{})
	for _, p := range []string{notTar, emptyTar, filepath.Join(dir, "missing.tar"), t.TempDir()} {
		if imgs, err := s.Import(testContext(t), p); err == nil {
			t.Errorf("Import(%s) = %v, want an error", p, imgs)
		} else {
			t.Logf("Import(%s): %v", filepath.Base(p), err)
		}
	}
}

// tarDir writes dir's files into a tar at dst, names relative to dir.
func tarDir(dir, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
