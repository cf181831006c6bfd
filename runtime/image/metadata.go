package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// metadataVersion is the version of images.json's format; Open refuses a
// file of a newer version rather than dropping what it does not understand.
const metadataVersion = 1

type metadataFile struct {
	Version int           `json:"version"`
	Images  []imageRecord `json:"images"`
}

// imageRecord is Image as stored: the JSON names are part of the on-disk
// format and do not change with the Go names.
type imageRecord struct {
	ID          string       `json:"id"`
	RepoTags    []string     `json:"repoTags,omitempty"`
	RepoDigests []string     `json:"repoDigests,omitempty"`
	Size        int64        `json:"size"`
	Layers      []string     `json:"layers"`
	Config      configRecord `json:"config"`
	Created     time.Time    `json:"created"`
}

type configRecord struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
}

// fileStamp identifies one version of images.json. Every write replaces
// the file by rename, so a new version has a new inode (and mtime).
type fileStamp struct {
	ino, size int64
	mtime     time.Time
}

// readCatalog loads images.json; a missing file is an empty catalog.
func readCatalog(path string) (*catalog, fileStamp, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newCatalog(), fileStamp{}, nil
	}
	if err != nil {
		return nil, fileStamp{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, err
	}
	var mf metadataFile
	if err := json.NewDecoder(f).Decode(&mf); err != nil {
		return nil, fileStamp{}, fmt.Errorf("read %s: %w", path, err)
	}
	if mf.Version > metadataVersion {
		return nil, fileStamp{}, fmt.Errorf("read %s: format version %d is newer than this program's %d", path, mf.Version, metadataVersion)
	}
	c := newCatalog()
	for _, r := range mf.Images {
		img := &Image{
			ID: r.ID, RepoTags: r.RepoTags, RepoDigests: r.RepoDigests, Size: r.Size, Layers: r.Layers,
			Config: Config{
				Entrypoint: r.Config.Entrypoint, Cmd: r.Config.Cmd, Env: r.Config.Env,
				WorkingDir: r.Config.WorkingDir, User: r.Config.User,
			},
			Created: r.Created,
		}
		c.images[img.ID] = img
	}
	return c, stampOf(fi), nil
}

func statStamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return stampOf(fi), nil
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = int64(st.Ino)
	}
	return s
}

// writeCatalog replaces images.json with c: a temporary file in the same
// directory, synced, then renamed over the old one, so a reader (or a crash)
// sees the old version or the new one, never a mix.
//
// prev is the stamp of the version being replaced. The new version's mtime
// is set later than prev's, even within one tick of the kernel's coarse
// file clock, so that every version's stamp differs from all earlier ones
// (a freed inode number can come back) and a stale cache always notices.
func writeCatalog(path string, c *catalog, prev fileStamp) (fileStamp, error) {
	mf := metadataFile{Version: metadataVersion, Images: []imageRecord{}}
	for _, img := range c.list() {
		mf.Images = append(mf.Images, imageRecord{
			ID: img.ID, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, Size: img.Size, Layers: img.Layers,
			Config: configRecord{
				Entrypoint: img.Config.Entrypoint, Cmd: img.Config.Cmd, Env: img.Config.Env,
				WorkingDir: img.Config.WorkingDir, User: img.Config.User,
			},
			Created: img.Created,
		})
	}
	data, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return fileStamp{}, err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+metadataTempInfix+"*")
	if err != nil {
		return fileStamp{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fileStamp{}, err
	}
	mtime := time.Now()
	if !mtime.After(prev.mtime) {
		mtime = prev.mtime.Add(time.Nanosecond)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		f.Close()
		return fileStamp{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fileStamp{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fileStamp{}, err
	}
	if err := f.Close(); err != nil {
		return fileStamp{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fileStamp{}, err
	}
	if err := syncDir(dir); err != nil {
		return fileStamp{}, err
	}
	return stampOf(fi), nil
}

// metadataTempInfix marks images.json's temporary files, which GC removes
// when a crash left one behind.
const metadataTempInfix = ".tmp-"

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
