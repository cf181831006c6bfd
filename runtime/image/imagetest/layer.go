package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Epoch is the modification time of every entry these helpers write, so
// that the same inputs always give the same digests.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Entry is one tar entry of a layer built by LayerFromEntries.
type Entry struct {
	Name string
	// Type is a tar type flag (tar.TypeReg, tar.TypeDir, tar.TypeSymlink,
	// tar.TypeLink, tar.TypeChar, ...); 0 means tar.TypeReg.
	Type     byte
	Body     string // a regular file's contents
	Linkname string // a symlink's or hardlink's target
	// Mode holds the permission bits, setuid/setgid/sticky included; 0
	// means 0644 for a file, 0755 for a directory, 0777 for a symlink.
	Mode     int64
	Uid, Gid int
	// Xattrs become SCHILY.xattr. PAX records.
	Xattrs map[string]string
}

// LayerFromEntries builds a gzip-compressed layer holding exactly entries,
// in order and without checks: names may be absolute, hold "..", repeat, or
// go through symlinks, as a hostile image's might.
func LayerFromEntries(entries []Entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: e.Type,
			Name:     e.Name,
			Linkname: e.Linkname,
			Mode:     e.Mode,
			Uid:      e.Uid,
			Gid:      e.Gid,
			ModTime:  Epoch,
			Format:   tar.FormatPAX,
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			switch hdr.Typeflag {
			case tar.TypeDir:
				hdr.Mode = 0o755
			case tar.TypeSymlink:
				hdr.Mode = 0o777
			default:
				hdr.Mode = 0o644
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("entry %q: %w", e.Name, err)
		}
		if hdr.Size > 0 {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				return nil, fmt.Errorf("entry %q: %w", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return layerFromTar(buf.Bytes())
}

// layerFromTar gzips a tar stream once (deterministically: the gzip header
// carries no name or time) and serves the compressed bytes as a layer.
func layerFromTar(tarBytes []byte) (v1.Layer, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarBytes); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	blob := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	})
}
