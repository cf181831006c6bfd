package vm

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"testing"
)

// newcWriter writes a cpio archive in the "newc" format, the one the
// kernel unpacks an initramfs from (the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst): per entry a
// 110-byte ASCII header, the NUL-terminated name and the data, each padded
// to a multiple of 4 bytes, and a final entry named TRAILER!!!. Every
// entry belongs to root and has mtime 0.
type newcWriter struct {
	w   io.Writer
	off int64
	ino uint32
	err error
}

// File modes of cpio headers, as in stat(2).
const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

func (c *newcWriter) Dir(name string, perm fs.FileMode) {
	c.entry(name, modeDir|unixPerm(perm), 0, 0, 0, nil)
}

// unixPerm is perm's permission and sticky bits as stat(2) has them.
func unixPerm(perm fs.FileMode) uint32 {
	m := uint32(perm.Perm())
	if perm&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// File writes a regular file of size bytes read from r.
func (c *newcWriter) File(name string, perm fs.FileMode, size int64, r io.Reader) {
	c.entry(name, modeReg|unixPerm(perm), size, 0, 0, r)
}

func (c *newcWriter) Bytes(name string, perm fs.FileMode, data []byte) {
	c.File(name, perm, int64(len(data)), bytes.NewReader(data))
}

func (c *newcWriter) Symlink(name, target string) {
	c.entry(name, modeLink|0o777, int64(len(target)), 0, 0, bytes.NewReader([]byte(target)))
}

func (c *newcWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) {
	c.entry(name, modeChr|unixPerm(perm), 0, major, minor, nil)
}

// Close writes the trailer; it does not close the underlying writer.
func (c *newcWriter) Close() error {
	c.ino = 0
	c.entry("TRAILER!!!", 0, 0, 0, 0, nil)
	return c.err
}

func (c *newcWriter) entry(name string, mode uint32, size int64, rdevMajor, rdevMinor uint32, data io.Reader) {
	if c.err != nil {
		return
	}
	if size > 0xffffffff {
		c.err = fmt.Errorf("cpio: %s: %d bytes is too large for newc", name, size)
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	hdr.WriteString(name)
	hdr.WriteByte(0)
	c.write(hdr.Bytes())
	c.pad()
	if data != nil && c.err == nil {
		n, err := io.Copy(c.w, io.LimitReader(data, size))
		c.off += n
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			c.err = fmt.Errorf("cpio: %s: %w", name, err)
			return
		}
	}
	c.pad()
}

func (c *newcWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	if err != nil {
		c.err = fmt.Errorf("cpio: %w", err)
	}
}

func (c *newcWriter) pad() {
	if n := c.off % 4; n != 0 {
		c.write(make([]byte, 4-n))
	}
}

// cpioEntry is one entry of a newc archive as readNewc parses it.
type cpioEntry struct {
	name       string
	mode       uint32
	rdev       [2]uint32
	data       string
	headerSize int
}

// readNewc parses a newc archive, checking its alignment, up to the
// trailer.
func readNewc(b []byte) ([]cpioEntry, error) {
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, _ := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		return uint32(v)
	}
	for {
		if off%4 != 0 {
			return nil, fmt.Errorf("entry at offset %d is not 4-byte aligned", off)
		}
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			return nil, fmt.Errorf("no newc header at offset %d", off)
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		rdev := [2]uint32{field(9), field(10)}
		nameEnd := off + 110 + namesize
		if nameEnd > len(b) || b[nameEnd-1] != 0 {
			return nil, fmt.Errorf("bad name at offset %d", off)
		}
		name := string(b[off+110 : nameEnd-1])
		dataOff := (nameEnd + 3) &^ 3
		if name == "TRAILER!!!" {
			return out, nil
		}
		if dataOff+size > len(b) {
			return nil, fmt.Errorf("%s: data past the end", name)
		}
		out = append(out, cpioEntry{name: name, mode: mode, rdev: rdev, data: string(b[dataOff : dataOff+size]), headerSize: nameEnd - off})
		off = (dataOff + size + 3) &^ 3
	}
}

func TestNewcWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &newcWriter{w: &buf}
	w.Dir("tmp", 0o777|fs.ModeSticky)
	w.Bytes("tmp/a", 0o644, []byte("hello"))
	w.Bytes("tmp/empty", 0o600, nil)
	w.Symlink("bin/sh", "busybox")
	w.CharDev("dev/console", 0o600, 5, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive is %d bytes, not a multiple of 4", buf.Len())
	}
	got, err := readNewc(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []cpioEntry{
		{name: "tmp", mode: 0o041777},
		{name: "tmp/a", mode: 0o100644, data: "hello"},
		{name: "tmp/empty", mode: 0o100600},
		{name: "bin/sh", mode: 0o120777, data: "busybox"},
		{name: "dev/console", mode: 0o020600, rdev: [2]uint32{5, 1}},
	}
	if len(got) != len(want) {
		t.Fatalf("entries %+v, want %+v", got, want)
	}
	for i := range want {
		if want[i].headerSize = 110 + len(want[i].name) + 1; got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestNewcWriterShortFile(t *testing.T) {
	w := &newcWriter{w: io.Discard}
	w.File("f", 0o644, 10, bytes.NewReader([]byte("short")))
	if err := w.Close(); err == nil {
		t.Fatal("a file shorter than its size was written without error")
	}
}
