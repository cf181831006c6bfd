package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	// whiteoutMeta prefixes aufs' own bookkeeping names; of those only the
	// opaque marker means anything to a layer.
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
	// overlayXattrPrefix names overlayfs' private xattrs. A layer sets them
	// only through whiteout entries: taken from a tar's PAX records they
	// could steer overlayfs' lookups (redirect, metacopy), so they are
	// dropped.
	overlayXattrPrefix = "trusted.overlay."
	paxXattrPrefix     = "SCHILY.xattr."
)

// extractor unpacks one layer's tar stream into root, the layer's
// not-yet-published fs directory, as an overlayfs lowerdir: whiteouts become
// 0:0 character devices and opaque markers the trusted.overlay.opaque xattr.
//
// Nothing outside root is ever written: names are checked (no absolute
// paths, no ".." components), and every directory on the way to an entry is
// checked with lstat to be a real directory, not a symlink, before the entry
// is created. The lstat checks are enough because root is private to this
// unpack (under the store's 0700 tmp directory): only the layer's own
// entries change it, and they are applied one at a time.
type extractor struct {
	root  string
	layer string // the layer's diffID, for errors
	log   *slog.Logger
	// dirs holds the paths (relative to root) checked to be real
	// directories. Replacing a directory forgets it and everything below.
	dirs map[string]bool
	// dirTimes are applied last: creating entries in a directory changes
	// its mtime.
	dirTimes []dirTime
	buf      []byte
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
}

// extractLayer unpacks the tar stream r into root. It stops at the tar's
// end-of-archive marker; the caller reads whatever follows.
func extractLayer(ctx context.Context, r io.Reader, root, layer string, log *slog.Logger) error {
	x := &extractor{root: root, layer: layer, log: log, dirs: map[string]bool{}, buf: make([]byte, 128<<10)}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
			// Under GODEBUG=tarinsecurepath=0; entry applies its own,
			// overlay-aware checks to the name.
			err = nil
		}
		if err != nil {
			return fmt.Errorf("layer %s: read tar: %w", layer, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	return x.applyDirTimes()
}

func (x *extractor) unsafe(entry, why string) error {
	return fmt.Errorf("layer %s: entry %q: %s: %w", x.layer, entry, why, ErrUnsafeLayer)
}

func (x *extractor) fail(entry string, err error) error {
	return fmt.Errorf("layer %s: entry %q: %w", x.layer, entry, err)
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	rel, why := cleanName(hdr.Name)
	if why != "" {
		return x.unsafe(hdr.Name, "name "+why)
	}
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return x.unsafe(hdr.Name, "a non-directory entry would replace the layer root")
		}
		return x.applyMeta(hdr, ".", x.root)
	}
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if err := x.ensureDir(hdr.Name, dir, true); err != nil {
		return err
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(hdr.Name, dir, base)
	}
	full := filepath.Join(x.root, rel)
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(hdr, rel, full)
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		return x.file(hdr, rel, full, r)
	case tar.TypeSymlink:
		return x.symlink(hdr, rel, full)
	case tar.TypeLink:
		return x.hardlink(hdr, rel, full)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// A container gets its devices from the runtime, never from an
		// image.
		x.log.Debug("skipping device or fifo in layer", "layer", x.layer, "entry", hdr.Name, "type", string(hdr.Typeflag))
		return nil
	default:
		x.log.Debug("skipping unsupported tar entry", "layer", x.layer, "entry", hdr.Name, "type", string(hdr.Typeflag))
		return nil
	}
}

// cleanName checks a name (or hardlink target) from the layer and returns it
// relative to the layer root, cleaned ("." is the root itself), or why it is
// unsafe.
func cleanName(name string) (clean, unsafe string) {
	if name == "" {
		return "", "is empty"
	}
	if strings.HasPrefix(name, "/") {
		return "", "is absolute"
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", "has a \"..\" component"
		}
	}
	return path.Clean(name), ""
}

// ensureDir checks that every component of dir (relative to root) is a real
// directory, not a symlink. Missing ones are created (0755, root-owned) when
// create is set: a layer may list a directory after its contents, and its
// own entry then sets the real metadata.
func (x *extractor) ensureDir(entry, dir string, create bool) error {
	if dir == "" || dir == "." || x.dirs[dir] {
		return nil
	}
	cur := ""
	for _, c := range strings.Split(dir, "/") {
		cur = path.Join(cur, c)
		if x.dirs[cur] {
			continue
		}
		full := filepath.Join(x.root, cur)
		fi, err := os.Lstat(full)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := os.Mkdir(full, 0o755); err != nil {
				return x.fail(entry, err)
			}
			if err := os.Chmod(full, 0o755); err != nil { // whatever the umask
				return x.fail(entry, err)
			}
		case err != nil:
			return x.fail(entry, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return x.unsafe(entry, fmt.Sprintf("path goes through symlink %q", cur))
		case !fi.IsDir():
			return x.fail(entry, fmt.Errorf("%q is not a directory", cur))
		}
		x.dirs[cur] = true
	}
	return nil
}

// clear removes whatever an earlier entry put at rel, so that a later
// duplicate replaces it.
func (x *extractor) clear(rel, full string) error {
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return os.Remove(full)
	}
	for d := range x.dirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			delete(x.dirs, d)
		}
	}
	return os.RemoveAll(full)
}

func (x *extractor) mkdir(hdr *tar.Header, rel, full string) error {
	fi, err := os.Lstat(full)
	switch {
	case err == nil && fi.IsDir():
		// A directory listed twice keeps its contents; the later entry's
		// metadata wins.
	case err == nil || errors.Is(err, fs.ErrNotExist):
		if err := x.clear(rel, full); err != nil {
			return x.fail(hdr.Name, err)
		}
		if err := os.Mkdir(full, 0o700); err != nil {
			return x.fail(hdr.Name, err)
		}
	default:
		return x.fail(hdr.Name, err)
	}
	x.dirs[rel] = true
	return x.applyMeta(hdr, rel, full)
}

func (x *extractor) file(hdr *tar.Header, rel, full string, r io.Reader) error {
	f, err := x.create(rel, full, func() (*os.File, error) {
		return os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	})
	if err != nil {
		return x.fail(hdr.Name, err)
	}
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, r, x.buf); err != nil {
		f.Close()
		return x.fail(hdr.Name, err)
	}
	if err := f.Close(); err != nil {
		return x.fail(hdr.Name, err)
	}
	return x.applyMeta(hdr, rel, full)
}

func (x *extractor) symlink(hdr *tar.Header, rel, full string) error {
	_, err := x.create(rel, full, func() (*os.File, error) { return nil, os.Symlink(hdr.Linkname, full) })
	if err != nil {
		return x.fail(hdr.Name, err)
	}
	return x.applyMeta(hdr, rel, full)
}

// hardlink links to an entry earlier in this same layer. Its target is
// checked like a name, and the directories on the way to it must be real
// ones: linking through a symlink could pull a host file into the layer.
func (x *extractor) hardlink(hdr *tar.Header, rel, full string) error {
	target, why := cleanName(hdr.Linkname)
	if why != "" {
		return x.unsafe(hdr.Name, fmt.Sprintf("hardlink target %q %s", hdr.Linkname, why))
	}
	if target == "." {
		return x.unsafe(hdr.Name, "hardlink to the layer root")
	}
	tdir, _ := path.Split(target)
	if err := x.ensureDir(hdr.Name, strings.TrimSuffix(tdir, "/"), false); err != nil {
		if errors.Is(err, ErrUnsafeLayer) {
			return err
		}
		return x.fail(hdr.Name, fmt.Errorf("hardlink target %q is not in this layer", hdr.Linkname))
	}
	tfull := filepath.Join(x.root, target)
	fi, err := os.Lstat(tfull)
	if err != nil {
		return x.fail(hdr.Name, fmt.Errorf("hardlink target %q is not in this layer", hdr.Linkname))
	}
	if fi.IsDir() {
		return x.fail(hdr.Name, fmt.Errorf("hardlink target %q is a directory", hdr.Linkname))
	}
	if target == rel {
		return nil
	}
	// link(2) does not follow a symlink target: a hardlink to a symlink is
	// a second name for the symlink itself.
	_, err = x.create(rel, full, func() (*os.File, error) { return nil, os.Link(tfull, full) })
	if err != nil {
		return x.fail(hdr.Name, err)
	}
	return nil
}

// create runs mk, and if something is already at full (an earlier entry of
// the same name) removes it and runs mk again.
func (x *extractor) create(rel, full string, mk func() (*os.File, error)) (*os.File, error) {
	f, err := mk()
	if errors.Is(err, fs.ErrExist) {
		if err := x.clear(rel, full); err != nil {
			return nil, err
		}
		f, err = mk()
	}
	return f, err
}

// whiteout turns ".wh.<name>" into overlayfs' whiteout for name (a 0:0
// character device) and ".wh..wh..opq" into the opaque-directory xattr on
// its directory.
func (x *extractor) whiteout(entry, dir, base string) error {
	dirFull := filepath.Join(x.root, dir)
	if base == whiteoutOpaque {
		if err := unix.Lsetxattr(dirFull, overlayXattrPrefix+"opaque", []byte("y"), 0); err != nil {
			return x.fail(entry, fmt.Errorf("mark directory opaque: %w", err))
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		x.log.Debug("skipping aufs metadata entry", "layer", x.layer, "entry", entry)
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return x.unsafe(entry, "whiteout names no entry")
	}
	rel := path.Join(dir, name)
	full := filepath.Join(x.root, rel)
	if err := x.clear(rel, full); err != nil {
		return x.fail(entry, err)
	}
	if err := unix.Mknod(full, unix.S_IFCHR, int(unix.Mkdev(0, 0))); err != nil {
		return x.fail(entry, fmt.Errorf("create whiteout: %w", err))
	}
	// A setgid parent would otherwise give the device the parent's group.
	if err := os.Lchown(full, 0, 0); err != nil {
		return x.fail(entry, err)
	}
	return nil
}

// applyMeta sets an entry's owner, mode, xattrs and times, in that order:
// chown clears the setuid and setgid bits and file capabilities, so it goes
// first.
func (x *extractor) applyMeta(hdr *tar.Header, rel, full string) error {
	if err := os.Lchown(full, hdr.Uid, hdr.Gid); err != nil {
		return x.fail(hdr.Name, err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// full is a directory or regular file this extractor just made, so
		// chmod's following of symlinks does not apply.
		if err := unix.Chmod(full, uint32(hdr.Mode&0o7777)); err != nil {
			return x.fail(hdr.Name, err)
		}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok {
			continue
		}
		if strings.HasPrefix(attr, overlayXattrPrefix) {
			x.log.Debug("dropping overlayfs xattr from layer", "layer", x.layer, "entry", hdr.Name, "xattr", attr)
			continue
		}
		if err := unix.Lsetxattr(full, attr, []byte(v), 0); err != nil {
			if errors.Is(err, unix.EOPNOTSUPP) {
				x.log.Debug("xattr not supported here, skipped", "layer", x.layer, "entry", hdr.Name, "xattr", attr)
				continue
			}
			return x.fail(hdr.Name, fmt.Errorf("set xattr %s: %w", attr, err))
		}
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		x.dirTimes = append(x.dirTimes, dirTime{rel: rel, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	if err := setTimes(full, atime, hdr.ModTime); err != nil {
		return x.fail(hdr.Name, err)
	}
	return nil
}

// applyDirTimes sets the directories' times once their contents are in
// place. A directory that a later entry replaced (dropped from x.dirs, which
// also drops everything below it) keeps the time it has: its recorded path
// may now go through a symlink.
func (x *extractor) applyDirTimes() error {
	for i := len(x.dirTimes) - 1; i >= 0; i-- {
		d := x.dirTimes[i]
		if d.rel != "." && !x.dirs[d.rel] {
			continue
		}
		if err := setTimes(filepath.Join(x.root, d.rel), d.atime, d.mtime); err != nil {
			return x.fail(d.rel, err)
		}
	}
	return nil
}

func setTimes(full string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW)
}
