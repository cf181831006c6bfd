// Package mountinfo parses proc(5)'s /proc/<pid>/mountinfo. It imports only
// the standard library: the container runtime's shim links it.
package mountinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrMalformed is wrapped by Parse's error for a line it could not read;
// the lines it could read are returned all the same.
var ErrMalformed = errors.New("malformed mountinfo line")

// Mount is one line, as far as Shepherd cares.
type Mount struct {
	Point  string // the fifth field, unescaped
	FSType string
	Source string
	// SuperOptions are the file system's own options (for cgroup v1, the
	// controllers among them).
	SuperOptions []string
}

// Read parses a mountinfo file ("/proc/self/mountinfo").
func Read(name string) ([]Mount, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads lines of the form
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The fifth field is the mount point; after the optional fields and the
// lone "-" come the file system type, the source and the super options.
// Fields never contain a space (the kernel escapes it as \040).
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	var bad error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		head, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(head) < 5 || len(tail) < 1 {
			if bad == nil {
				bad = fmt.Errorf("%w: %q", ErrMalformed, sc.Text())
			}
			continue
		}
		m := Mount{Point: unescape(head[4]), FSType: tail[0]}
		if len(tail) > 1 {
			m.Source = tail[1]
		}
		if len(tail) > 2 {
			m.SuperOptions = strings.Split(tail[2], ",")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	return out, bad
}

// unescape undoes the kernel's octal escapes (\040 for a space, \011,
// \012, \134).
func unescape(s string) string {
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
