package image

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/shepherd-lab/shepherd/internal/testlog"
	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// requireRoot skips tests that unpack layers: that takes chown, mknod and
// trusted.* xattrs.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking layers uses chown, mknod and trusted.* xattrs")
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testLogger writes to the test's log until the test ends.
func testLogger(t *testing.T) *slog.Logger { return testlog.New(t) }

// openStore opens a store under a fresh directory; opts.Log defaults to the
// test's log.
func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Log == nil {
		opts.Log = testLogger(t)
	}
	s, err := Open(filepath.Join(t.TempDir(), "images"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// layerDirNames lists layers/sha256.
func layerDirNames(t *testing.T, s *Store) []string {
	t.Helper()
	return dirNames(t, s.layersDir())
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// assertNothingStored checks that a failed pull or import left no image, no
// layer and no temporary directory.
func assertNothingStored(t *testing.T, s *Store) {
	t.Helper()
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Errorf("List = %d images, %v; want none", len(imgs), err)
	}
	if names := layerDirNames(t, s); len(names) != 0 {
		t.Errorf("layer dirs = %v; want none", names)
	}
	if names := dirNames(t, s.tmpDir()); len(names) != 0 {
		t.Errorf("tmp/ holds %v; want nothing", names)
	}
}

// smallImage is a one-layer image holding one file, distinct per content.
func smallImage(t *testing.T, file, content string) v1.Image {
	t.Helper()
	l, err := imagetest.LayerFromEntries([]imagetest.Entry{{Name: file, Body: content}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/" + file}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func configID(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func manifestDigest(t *testing.T, img interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func diffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range cf.RootFS.DiffIDs {
		out = append(out, h.String())
	}
	return out
}

// blobCounter wraps a registry handler and counts blob GETs by digest.
type blobCounter struct {
	mu   sync.Mutex
	gets map[string]int
}

func (c *blobCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			c.mu.Lock()
			if c.gets == nil {
				c.gets = map[string]int{}
			}
			c.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (c *blobCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.gets {
		n += v
	}
	return n
}

func (c *blobCounter) get(digest string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[digest]
}

func (c *blobCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets = nil
}
