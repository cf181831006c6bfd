package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Store is a node's image store. It is safe for concurrent use by many
// goroutines and by several processes sharing one root.
type Store struct {
	root     string
	log      *slog.Logger
	platform v1.Platform
	authFile string
	insecure map[string]bool
	// transport is the HTTP transport under every registry connection; it
	// refuses plain HTTP to hosts not in insecure.
	transport http.RoundTripper

	// mu guards cat and stamp, and serialises this process's metadata
	// writes (images.lock serialises them across processes).
	mu    sync.Mutex
	cat   *catalog
	stamp fileStamp // the images.json version cat was loaded from

	// inflight holds a channel per layer (diffID) this process is unpacking;
	// it is closed when the unpack ends, successfully or not.
	inflightMu sync.Mutex
	inflight   map[string]chan struct{}
}

// Open opens (creating it if needed) the image store at root, e.g.
// /var/lib/shepherd/kubelet/images.
func Open(root string, opts Options) (*Store, error) {
	if root == "" {
		return nil, fmt.Errorf("image store: empty root")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	platform := opts.Platform
	if platform == "" {
		platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, fmt.Errorf("image store: platform %q: %w", platform, err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{root, filepath.Join(root, "layers", "sha256"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	s := &Store{
		root:     root,
		log:      log,
		platform: *p,
		authFile: opts.AuthFile,
		insecure: map[string]bool{},
		inflight: map[string]chan struct{}{},
	}
	for _, h := range opts.Insecure {
		s.insecure[h] = true
	}
	s.transport = &httpsOnly{base: http.DefaultTransport.(*http.Transport).Clone(), insecure: s.insecure}
	s.cat, s.stamp, err = readCatalog(s.metadataPath())
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s, nil
}

func (s *Store) metadataPath() string { return filepath.Join(s.root, "images.json") }
func (s *Store) metadataLock() string { return filepath.Join(s.root, "images.lock") }
func (s *Store) layersLock() string   { return filepath.Join(s.root, "layers.lock") }
func (s *Store) layersDir() string    { return filepath.Join(s.root, "layers", "sha256") }
func (s *Store) tmpDir() string       { return filepath.Join(s.root, "tmp") }

// layerPath is the directory of the layer with diffID; its fs subdirectory
// is the unpacked tree.
func (s *Store) layerPath(diffID v1.Hash) string { return filepath.Join(s.layersDir(), diffID.Hex) }

func (s *Store) layerFS(diffID v1.Hash) string { return filepath.Join(s.layerPath(diffID), "fs") }

// refresh reloads the catalog if another process (or Store) replaced
// images.json since it was loaded. Callers hold s.mu.
func (s *Store) refresh() error {
	st, err := statStamp(s.metadataPath())
	if err != nil {
		return err
	}
	if st == s.stamp {
		return nil
	}
	c, st, err := readCatalog(s.metadataPath())
	if err != nil {
		return err
	}
	s.cat, s.stamp = c, st
	return nil
}

// errUnchanged, returned by an update's fn, means there is nothing to write.
var errUnchanged = errors.New("catalog unchanged")

// update applies fn to a copy of the current catalog and persists the copy.
// It holds s.mu and images.lock, and re-reads images.json under them, so
// concurrent updates from any process never lose each other's changes.
func (s *Store) update(ctx context.Context, fn func(*catalog) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(ctx, s.metadataLock(), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.refresh(); err != nil {
		return err
	}
	c := s.cat.clone()
	if err := fn(c); err == errUnchanged {
		return nil
	} else if err != nil {
		return err
	}
	st, err := writeCatalog(s.metadataPath(), c, s.stamp)
	if err != nil {
		return fmt.Errorf("write image metadata: %w", err)
	}
	s.cat, s.stamp = c, st
	return nil
}

// view runs fn on the current catalog under s.mu. images.json is only ever
// replaced whole, so reading it needs no file lock.
func (s *Store) view(fn func(*catalog) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return err
	}
	return fn(s.cat)
}

// Get returns the image ref names: a name with a tag or digest (normalised
// as NormalizeRef does), a full ID ("sha256:..."), or a unique ID prefix of
// at least 12 hex digits. A missing image is an error wrapping ErrNotFound.
func (s *Store) Get(ref string) (*Image, error) {
	var out *Image
	err := s.view(func(c *catalog) error {
		img, err := c.resolve(ref)
		if err != nil {
			return err
		}
		out = img.clone()
		return nil
	})
	return out, err
}

// List returns every image, sorted by first tag (tagged images first), then
// by ID.
func (s *Store) List() ([]*Image, error) {
	var out []*Image
	err := s.view(func(c *catalog) error {
		for _, img := range c.list() {
			out = append(out, img.clone())
		}
		return nil
	})
	return out, err
}

// Remove removes a name. A tag is taken from its image, and with the last
// tag the image's record goes (its digest names too); a digest name goes
// alone, and the record with it once the image has no names left; an ID (or
// ID prefix) removes the record outright. Layers stay until GC, which
// removes those no record references: remove a record only when no
// container uses the image (keep in GC cannot protect an image that has
// no record).
func (s *Store) Remove(ref string) error {
	return s.update(context.Background(), func(c *catalog) error { return c.remove(ref) })
}

// LayerDirs returns img's unpacked layer directories, bottom to top: ready to
// be overlayfs lowerdirs once the caller reverses them (overlay lists the top
// layer first). A missing layer is an error wrapping ErrNotFound. The
// directories stay until a GC whose keep set lacks img.ID.
func (s *Store) LayerDirs(img *Image) ([]string, error) {
	dirs := make([]string, 0, len(img.Layers))
	for _, l := range img.Layers {
		h, err := v1.NewHash(l)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %q: %w", img.ID, l, err)
		}
		d := s.layerFS(h)
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("image %s: layer %s is missing from the store: %w", img.ID, l, ErrNotFound)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}
