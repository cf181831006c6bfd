package kubelet

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A configMap, secret, downwardAPI or projected volume is a directory a
// container keeps open while the kubelet rewrites it. It is laid out as
// Kubernetes lays it out, so a reader sees the old files or the new ones,
// never a mix:
//
//	<dir>/..2024_05_01_12_00_00.123456789/  one generation of the files
//	<dir>/..data -> ..2024_05_01_12_00_00.123456789
//	<dir>/<key>  -> ..data/<key>            one per top-level name
//
// writeAtomic writes a new generation beside the current one and swaps
// ..data by renaming a new symlink over it (rename is atomic), then drops
// the old generation. An open of <dir>/<key> resolves ..data once, so it
// gets one generation's file, complete: files are never changed once
// ..data points to them. An open that resolves ..data just before the swap
// and looks up the generation just after its removal fails with ENOENT
// (Kubernetes has the same window; readers that care retry).

const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
	linkTmp     = "..link_tmp" // keys cannot start with "..": no clash
	// generationLayout names generation directories (os.MkdirTemp adds a
	// random suffix after the dot).
	generationLayout = "..2006_01_02_15_04_05."
)

// fileProjection is one file of a volume: its content and permission bits.
type fileProjection struct {
	Data []byte
	Mode fs.FileMode
}

// writeAtomic makes dir hold exactly files (by slash-separated relative
// path), laid out as above. It writes nothing when the current generation
// already holds the same files with the same modes and group (and then
// only restores missing top-level links), and reports whether it wrote a
// new generation. dir must exist. Entries of dir it did not make (a
// subPath directory made for a container) are left alone.
//
// With fsGroup, the volume is given to that group as Kubernetes'
// SetVolumeOwnership does for these read-only volumes: every entry's
// group is fsGroup, files are made group-readable (mode | 0440),
// directories group-readable and searchable with the setgid bit
// (| 02550). A new generation gets it before ..data points to it.
func writeAtomic(dir string, files map[string]fileProjection, fsGroup *int64) (bool, error) {
	top, err := checkProjectionPaths(files)
	if err != nil {
		return false, err
	}
	gid := -1
	if fsGroup != nil {
		gid = int(*fsGroup)
		owned := make(map[string]fileProjection, len(files))
		for p, f := range files {
			f.Mode |= fsGroupFileBits
			owned[p] = f
		}
		files = owned
	}
	cur, err := os.Readlink(filepath.Join(dir, dataLink))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cur = ""
	case err != nil:
		return false, fmt.Errorf("read %s link: %w", dataLink, err)
	case !isGenerationName(cur):
		return false, fmt.Errorf("%s: %s points to %q, not to a generation directory", dir, dataLink, cur)
	}
	if cur != "" {
		same, err := sameFiles(filepath.Join(dir, cur), files, gid)
		if err != nil {
			return false, err
		}
		if same {
			if err := linkTopLevel(dir, top); err != nil {
				return false, err
			}
			if err := setTopLevelGroup(dir, top, gid); err != nil {
				return false, err
			}
			return false, removeStale(dir, top, cur)
		}
	}

	gen, err := os.MkdirTemp(dir, time.Now().UTC().Format(generationLayout))
	if err != nil {
		return false, err
	}
	if err := writeGeneration(gen, files); err != nil {
		os.RemoveAll(gen)
		return false, err
	}
	if err := setGroup(gen, gid); err != nil {
		os.RemoveAll(gen)
		return false, err
	}
	tmp := filepath.Join(dir, dataLinkTmp)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(gen)
		return false, err
	}
	if err := os.Symlink(filepath.Base(gen), tmp); err != nil {
		os.RemoveAll(gen)
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		os.Remove(tmp)
		os.RemoveAll(gen)
		return false, err
	}
	// From here on the new files are what readers see; what is left is
	// housekeeping, which the next call repeats if it fails now.
	if err := linkTopLevel(dir, top); err != nil {
		return true, err
	}
	if err := setTopLevelGroup(dir, top, gid); err != nil {
		return true, err
	}
	return true, removeStale(dir, top, filepath.Base(gen))
}

// checkProjectionPaths checks the paths never leave the volume directory
// nor clash with the layout (validation checks as much, but files are
// written as root), and returns the set of top-level names.
func checkProjectionPaths(files map[string]fileProjection) (map[string]bool, error) {
	top := map[string]bool{}
	for p := range files {
		if p == "" || len(p) > 4096 || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "..") {
			return nil, fmt.Errorf("file path %q: must be relative and must not start with '..'", p)
		}
		for _, c := range strings.Split(p, "/") {
			if c == "" || c == "." || c == ".." {
				return nil, fmt.Errorf("file path %q: must not contain empty, '.' or '..' elements", p)
			}
		}
		// One path must not be a directory on the way to another.
		for q := p; ; {
			i := strings.LastIndexByte(q, '/')
			if i < 0 {
				break
			}
			q = q[:i]
			if _, ok := files[q]; ok {
				return nil, fmt.Errorf("file path %q: %q is a file too", p, q)
			}
		}
		name, _, _ := strings.Cut(p, "/")
		top[name] = true
	}
	return top, nil
}

// isGenerationName: generation directories are "..<year>…".
func isGenerationName(name string) bool {
	return len(name) > 2 && strings.HasPrefix(name, "..") && name[2] >= '0' && name[2] <= '9' && !strings.Contains(name, "/")
}

// sameFiles reports whether gen holds exactly files, contents and modes,
// and, when gid is not -1, every file and directory has that group.
func sameFiles(gen string, files map[string]fileProjection, gid int) (bool, error) {
	seen := 0
	same := true
	err := filepath.WalkDir(gen, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if gid >= 0 {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Gid) != gid {
				same = false
				return filepath.SkipAll
			}
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(gen, p)
		want, ok := files[filepath.ToSlash(rel)]
		if !ok || !d.Type().IsRegular() {
			same = false
			return filepath.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() != want.Mode.Perm() || info.Size() != int64(len(want.Data)) {
			same = false
			return filepath.SkipAll
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, want.Data) {
			same = false
			return filepath.SkipAll
		}
		seen++
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // a broken generation: write a new one
	}
	if err != nil {
		return false, fmt.Errorf("compare volume files: %w", err)
	}
	return same && seen == len(files), nil
}

// writeGeneration writes files into the fresh directory gen: directories
// 0755, files with their modes, set explicitly (the umask plays no part).
func writeGeneration(gen string, files map[string]fileProjection) error {
	if err := os.Chmod(gen, 0o755); err != nil {
		return err
	}
	for p, f := range files {
		full := filepath.Join(gen, filepath.FromSlash(p))
		if err := mkdirs(gen, filepath.Dir(full)); err != nil {
			return err
		}
		w, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = w.Write(f.Data)
		if err == nil {
			err = w.Chmod(f.Mode.Perm())
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// mkdirs makes dir and its parents up to base (which exists), 0755.
func mkdirs(base, dir string) error {
	if dir == base {
		return nil
	}
	if err := mkdirs(base, filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// linkTopLevel makes <dir>/<name> -> ..data/<name> for each top-level name.
func linkTopLevel(dir string, top map[string]bool) error {
	for name := range top {
		p := filepath.Join(dir, name)
		target := dataLink + "/" + name
		got, err := os.Readlink(p)
		if err == nil && got == target {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: something other than the volume's link is in the way: %w", p, err)
		}
		if err == nil {
			// A link of ours gone stale; replace it atomically.
			tmp := filepath.Join(dir, linkTmp)
			os.Remove(tmp)
			if err := os.Symlink(target, tmp); err != nil {
				return err
			}
			if err := os.Rename(tmp, p); err != nil {
				os.Remove(tmp)
				return err
			}
			continue
		}
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes top-level links into ..data for names no longer
// present, and every generation directory but keep, the current one: the
// previous one and any a crash left behind.
func removeStale(dir string, top map[string]bool, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case name == dataLink || name == keep:
		case isGenerationName(name):
			if e.IsDir() {
				errs = append(errs, os.RemoveAll(p))
			}
		case !top[name] && e.Type()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, dataLink+"/") {
				errs = append(errs, os.Remove(p))
			}
		}
	}
	return errors.Join(errs...)
}

// The mode bits fsGroup adds, as Kubernetes' SetVolumeOwnership for a
// read-only volume: group read for files, and for directories group read
// and search and setgid (new entries inherit the group).
const (
	fsGroupFileBits = 0o440
	fsGroupDirBits  = 0o550 | fs.ModeSetgid
)

// setGroup gives dir and everything below it to group gid (-1: nothing
// to do): symlinks themselves (lchown), files and directories with the
// fsGroup mode bits added.
func setGroup(dir string, gid int) error {
	if gid < 0 {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return setEntryGroup(p, d, gid)
	})
}

func setEntryGroup(p string, d fs.DirEntry, gid int) error {
	if err := os.Lchown(p, -1, gid); err != nil {
		return err
	}
	if d.Type()&fs.ModeSymlink != 0 {
		return nil // a symlink's mode means nothing; chmod would follow it
	}
	info, err := d.Info()
	if err != nil {
		return err
	}
	bits := fs.FileMode(fsGroupFileBits)
	if d.IsDir() {
		bits = fsGroupDirBits
	}
	mode := info.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky) | bits
	if mode == info.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky) {
		return nil
	}
	return os.Chmod(p, mode)
}

// setTopLevelGroup gives the volume directory itself, its ..data link and
// its top-level links to group gid (-1: nothing to do).
func setTopLevelGroup(dir string, top map[string]bool, gid int) error {
	if gid < 0 {
		return nil
	}
	names := []string{"", dataLink}
	for name := range top {
		names = append(names, name)
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := setEntryGroup(p, fs.FileInfoToDirEntry(info), gid); err != nil {
			return err
		}
	}
	return nil
}
