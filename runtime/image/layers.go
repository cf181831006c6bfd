package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// hasLayer reports whether the layer is in the store. A layer directory
// exists only once complete, so existence is the whole test.
func (s *Store) hasLayer(diffID v1.Hash) bool {
	fi, err := os.Lstat(s.layerPath(diffID))
	return err == nil && fi.IsDir()
}

// ensureLayer makes the layer diffID present, unpacking l unless it already
// is. Goroutines of this process that want the same layer at once share one
// download: the others wait and then look again (and try themselves if the
// first one failed). Processes sharing the root may both unpack it; the
// first rename wins and the other copy is dropped. The caller holds
// layers.lock shared, so GC cannot remove the layer before the image that
// needs it is recorded.
func (s *Store) ensureLayer(ctx context.Context, l v1.Layer, diffID v1.Hash) (fetched bool, err error) {
	if diffID.Algorithm != "sha256" {
		return false, fmt.Errorf("layer %s: only sha256 diffIDs are supported", diffID)
	}
	for {
		if s.hasLayer(diffID) {
			return false, nil
		}
		key := diffID.String()
		s.inflightMu.Lock()
		wait, busy := s.inflight[key]
		if !busy {
			s.inflight[key] = make(chan struct{})
		}
		s.inflightMu.Unlock()
		if busy {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		err := s.unpackLayer(ctx, l, diffID)
		s.inflightMu.Lock()
		close(s.inflight[key])
		delete(s.inflight, key)
		s.inflightMu.Unlock()
		return err == nil, err
	}
}

// unpackLayer unpacks l into a temporary directory under tmp/, verifies the
// uncompressed stream against diffID (and, by reading the compressed stream
// to its end, the blob against its digest), then renames the directory into
// layers/. A failure leaves nothing behind.
func (s *Store) unpackLayer(ctx context.Context, l v1.Layer, diffID v1.Hash) (err error) {
	start := time.Now()
	tmp, err := os.MkdirTemp(s.tmpDir(), "layer-"+diffID.Hex[:12]+"-")
	if err != nil {
		return err
	}
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(fsDir, 0o755); err != nil {
		return err
	}

	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	r := &countingReader{r: io.TeeReader(rc, h)}
	if err := extractLayer(ctx, r, fsDir, diffID.String(), s.log); err != nil {
		return err
	}
	// The tar reader stops at the end-of-archive marker. Read the rest (zero
	// padding, normally): the diffID covers the whole stream, and only a
	// compressed stream read to EOF has had its digest checked.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	if err := rc.Close(); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("layer %s: uncompressed content has digest sha256:%s: diffID mismatch", diffID, got)
	}

	// Make the contents durable before the rename publishes them, so that
	// after a power loss a layer directory is still either complete or
	// absent.
	if err := syncFS(tmp); err != nil {
		return fmt.Errorf("layer %s: sync: %w", diffID, err)
	}
	err = os.Rename(tmp, s.layerPath(diffID))
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		// Another process published the same layer first; ours goes.
		s.log.Debug("layer unpacked concurrently elsewhere", "layer", diffID.String())
		return nil
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	tmp = ""
	s.log.Debug("unpacked layer", "layer", diffID.String(), "bytes", r.n, "duration", time.Since(start))
	return nil
}

// syncFS flushes the filesystem holding dir: one syncfs(2) rather than an
// fsync per file of the layer.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
