package image

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// importImage imports img from a docker-save archive tagged tag.
func importImage(t *testing.T, s *Store, tag string, img v1.Image) *Image {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := imagetest.WriteDockerArchive(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.Import(testContext(t), archive)
	if err != nil {
		t.Fatal(err)
	}
	return imgs[0]
}

// layerHexes are the layer directory names an image's layers have.
func layerHexes(img *Image) []string {
	var out []string
	for _, l := range img.Layers {
		out = append(out, strings.TrimPrefix(l, "sha256:"))
	}
	slices.Sort(out)
	return out
}

func TestRemoveAndGC(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	extra, err := imagetest.LayerFromEntries([]imagetest.Entry{{Name: "app", Body: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := mutate.AppendLayers(busybox, extra) // shares busybox's layer
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Options{})
	ctx := testContext(t)
	bb := importImage(t, s, "busybox:latest", busybox)
	ap := importImage(t, s, "app:v1", app)
	if got := layerDirNames(t, s); !slices.Equal(got, layerHexes(ap)) || len(got) != 2 {
		t.Fatalf("layer dirs = %v, want app's two layers %v", got, layerHexes(ap))
	}
	dirs, err := s.LayerDirs(ap)
	if err != nil {
		t.Fatal(err)
	}
	// Bottom to top: busybox's layer, then the app's.
	if _, err := os.Lstat(filepath.Join(dirs[0], "bin/busybox")); err != nil {
		t.Errorf("bottom layer: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dirs[1], "app")); err != nil {
		t.Errorf("top layer: %v", err)
	}

	// A stale unpack left by a crash goes at the next GC.
	stale := filepath.Join(s.tmpDir(), "layer-0123456789ab-crashed")
	if err := os.MkdirAll(filepath.Join(stale, "fs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := s.Remove("busybox"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("busybox"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(bb.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(ID) after removing the last tag = %v, want ErrNotFound", err)
	}
	imgs, layers, err := s.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || layers != 0 {
		t.Errorf("GC removed %d images, %d layers; want 0, 0 (the busybox layer is app's too)", imgs, layers)
	}
	if got := layerDirNames(t, s); !slices.Equal(got, layerHexes(ap)) {
		t.Errorf("layer dirs = %v, want %v", got, layerHexes(ap))
	}
	if names := dirNames(t, s.tmpDir()); len(names) != 0 {
		t.Errorf("tmp/ holds %v after GC", names)
	}
	if _, err := s.LayerDirs(ap); err != nil {
		t.Errorf("LayerDirs(app) after GC: %v", err)
	}

	if err := s.Remove(ap.ID); err != nil {
		t.Fatal(err)
	}
	if imgs, layers, err = s.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || layers != 2 {
		t.Errorf("GC removed %d images, %d layers; want 0, 2", imgs, layers)
	}
	if got := layerDirNames(t, s); len(got) != 0 {
		t.Errorf("layer dirs = %v, want none", got)
	}
	if _, err := s.LayerDirs(ap); !errors.Is(err, ErrNotFound) {
		t.Errorf("LayerDirs of a collected image = %v, want ErrNotFound", err)
	}
	if err := s.Remove("app:v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of a removed image = %v, want ErrNotFound", err)
	}
}

func TestGCKeepsImagesInUse(t *testing.T) {
	requireRoot(t)
	s := openStore(t, Options{})
	ctx := testContext(t)
	v1img, v2img := smallImage(t, "version", "1"), smallImage(t, "version", "2")
	old := importImage(t, s, "app:latest", v1img)
	// The tag moves to a new image; the old one is dangling, but a
	// container still runs it.
	cur := importImage(t, s, "app:latest", v2img)
	got, err := s.Get(old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.RepoTags) != 0 || len(got.RepoDigests) != 0 {
		t.Errorf("old image names = %v %v, want none", got.RepoTags, got.RepoDigests)
	}

	imgs, layers, err := s.GC(ctx, map[string]bool{old.ID: true})
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || layers != 0 {
		t.Errorf("GC(keep old) removed %d images, %d layers; want none", imgs, layers)
	}
	if _, err := s.LayerDirs(got); err != nil {
		t.Errorf("LayerDirs(kept image): %v", err)
	}

	imgs, layers, err = s.GC(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 1 || layers != 1 {
		t.Errorf("GC removed %d images, %d layers; want 1, 1", imgs, layers)
	}
	if _, err := s.Get(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(old) after GC = %v, want ErrNotFound", err)
	}
	if got := layerDirNames(t, s); !slices.Equal(got, layerHexes(cur)) {
		t.Errorf("layer dirs = %v, want the current image's %v", got, layerHexes(cur))
	}
}

func TestOpenAfterRestart(t *testing.T) {
	requireRoot(t)
	root := filepath.Join(t.TempDir(), "images")
	s, err := Open(root, Options{Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	importImage(t, s, "busybox:latest", imagetest.Busybox(t))
	importImage(t, s, "quay.io/a/small:1", smallImage(t, "f", "small"))
	before, err := s.List()
	if err != nil {
		t.Fatal(err)
	}

	s2, err := Open(root, Options{Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	after, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 || len(before) != 2 {
		t.Fatalf("List before restart = %d images, after = %d; want 2 and 2", len(before), len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.ID != b.ID || !slices.Equal(a.RepoTags, b.RepoTags) || !slices.Equal(a.Layers, b.Layers) ||
			a.Size != b.Size || !a.Created.Equal(b.Created) || !slices.Equal(a.Config.Cmd, b.Config.Cmd) || !slices.Equal(a.Config.Env, b.Config.Env) {
			t.Errorf("after restart: %+v\nbefore: %+v", a, b)
		}
	}
	if _, err := s2.LayerDirs(after[0]); err != nil {
		t.Error(err)
	}

	// A change through one Store is seen by another on the same root.
	if err := s2.Remove("busybox"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("busybox"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the first store still sees busybox after the second removed it: %v", err)
	}
}

// TestGCDuringPulls runs GC over and over while images are pulled: a layer
// a pull has unpacked must not be collected before its image is recorded.
func TestGCDuringPulls(t *testing.T) {
	requireRoot(t)
	host := imagetest.Registry(t)
	var refs []string
	for i := range 6 {
		img := smallImage(t, "n", strings.Repeat("x", i+1))
		refs = append(refs, imagetest.Push(t, host, "img"+string(rune('a'+i))+":latest", img))
	}
	s := openStore(t, Options{Insecure: []string{host}})
	ctx := testContext(t)

	stop := make(chan struct{})
	gcDone := make(chan error, 1)
	go func() {
		for range 10000 { // bounded: the pulls take well under that many GCs
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, _, err := s.GC(ctx, nil); err != nil {
				gcDone <- err
				return
			}
		}
		<-stop
		gcDone <- nil
	}()
	pulled := make([]*Image, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() { pulled[i], errs[i] = s.Pull(ctx, ref, PullOptions{}) })
	}
	wg.Wait()
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatalf("GC: %v", err)
	}
	for i, img := range pulled {
		if errs[i] != nil {
			t.Errorf("pull %s: %v", refs[i], errs[i])
			continue
		}
		if _, err := s.LayerDirs(img); err != nil {
			t.Errorf("after GC: %v", err)
		}
	}
}
