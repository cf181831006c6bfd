package cgroups

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// cgroupMounts is what a mountinfo file says about cgroup file systems.
type cgroupMounts struct {
	// unified is the mount point of the first cgroup2 entry, "" if none.
	unified string
	// v1 maps each cgroup v1 super option (controller names among them)
	// to the first mount point that carries it.
	v1 map[string]string
}

func readMountinfo(name string) (cgroupMounts, error) {
	f, err := os.Open(name)
	if err != nil {
		return cgroupMounts{}, err
	}
	defer f.Close()
	return parseMountinfo(f)
}

// parseMountinfo parses the format of proc(5)'s /proc/<pid>/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The fifth field is the mount point; after the optional fields and the
// lone "-" come the file system type and, third, the super options, which
// for cgroup v1 name the controllers.
func parseMountinfo(r io.Reader) (cgroupMounts, error) {
	m := cgroupMounts{v1: make(map[string]string)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// Fields never contain a space (the kernel escapes it as \040),
		// so " - " is the separator.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		head, tail := strings.Fields(pre), strings.Fields(post)
		if len(head) < 5 || len(tail) < 1 {
			continue
		}
		mountPoint := unescapeMountinfo(head[4])
		switch tail[0] {
		case "cgroup2":
			if m.unified == "" {
				m.unified = mountPoint
			}
		case "cgroup":
			if len(tail) < 3 {
				continue
			}
			for _, opt := range strings.Split(tail[2], ",") {
				if _, seen := m.v1[opt]; !seen {
					m.v1[opt] = mountPoint
				}
			}
		}
	}
	return m, sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo path.
func unescapeMountinfo(s string) string {
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
