package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// mount is one line of /proc/<pid>/mountinfo, as far as the benchmark
// cares.
type mount struct {
	Point, FSType string
}

// readMounts reads a mountinfo file ("/proc/self/mountinfo").
func readMounts(name string) ([]mount, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMounts(f)
}

// parseMounts parses proc(5)'s mountinfo format:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The fifth field is the mount point (spaces and the like escaped as \040);
// the file system type follows the lone "-".
func parseMounts(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			return nil, fmt.Errorf("mountinfo: malformed line %q", sc.Text())
		}
		out = append(out, mount{Point: unescapeOctal(f[4]), FSType: f[sep+1]})
	}
	return out, sc.Err()
}

// unescapeOctal undoes the kernel's \ooo escapes in mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// cgroupLayout is how a mount table lays out the cgroup file systems.
type cgroupLayout struct {
	V1 []string // cgroup v1 hierarchies' mount points
	V2 []string // cgroup2 mount points
}

func layoutOf(ms []mount) cgroupLayout {
	var l cgroupLayout
	for _, m := range ms {
		switch m.FSType {
		case "cgroup":
			l.V1 = append(l.V1, m.Point)
		case "cgroup2":
			l.V2 = append(l.V2, m.Point)
		}
	}
	return l
}

// hybrid says whether controllers live in cgroup v1 while a cgroup2 file
// system is mounted beside them: the layout crun 1.8 refuses ("cgroups in
// hybrid mode not supported").
func (l cgroupLayout) hybrid() bool { return len(l.V1) > 0 && len(l.V2) > 0 }

func (l cgroupLayout) String() string {
	switch {
	case l.hybrid():
		return fmt.Sprintf("hybrid: %d cgroup v1 hierarchies (%s, ...), cgroup2 at %s",
			len(l.V1), filepath.Dir(l.V1[0]), strings.Join(l.V2, ", "))
	case len(l.V2) > 0:
		return "unified: cgroup2 at " + strings.Join(l.V2, ", ")
	case len(l.V1) > 0:
		return fmt.Sprintf("legacy: %d cgroup v1 hierarchies, no cgroup2", len(l.V1))
	}
	return "no cgroup file system mounted"
}

// mountsUnder returns the mount points at or below dir.
func mountsUnder(ms []mount, dir string) []string {
	var out []string
	for _, m := range ms {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}
