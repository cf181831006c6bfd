package mountinfo

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 master:3 - cgroup2 cgroup2 rw
nonsense
50 22 0:40 / /tmp/run\040dir/a\134b rw - overlay overlay rw,lowerdir=/a
`
	ms, err := Parse(strings.NewReader(in))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("error %v, want ErrMalformed naming the line", err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d mounts, want the 4 well-formed ones: %+v", len(ms), ms)
	}
	if m := ms[1]; m.Point != "/sys/fs/cgroup/cpu" || m.FSType != "cgroup" || m.Source != "cgroup" || strings.Join(m.SuperOptions, ",") != "rw,cpu,cpuacct" {
		t.Errorf("cgroup v1 line: %+v", m)
	}
	if m := ms[2]; m.Point != "/sys/fs/cgroup/unified" || m.FSType != "cgroup2" {
		t.Errorf("optional fields before the separator: %+v", m)
	}
	if m := ms[3]; m.Point != `/tmp/run dir/a\b` {
		t.Errorf("escapes: %q", m.Point)
	}
	if _, err := Parse(strings.NewReader(in[:strings.Index(in, "nonsense")])); err != nil {
		t.Errorf("well-formed input: %v", err)
	}
}
