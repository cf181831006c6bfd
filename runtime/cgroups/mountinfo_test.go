package cgroups

import (
	"strings"
	"testing"
)

// hybridMountinfo is a hybrid host's: cgroup v1 controllers beside a cgroup2
// mount that holds none of them.
const hybridMountinfo = `22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// unifiedMountinfo is a cgroup v2 only host's (systemd's layout, with
// optional fields).
const unifiedMountinfo = `24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
28 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
45 28 0:40 / /sys/fs/cgroup/second rw,relatime shared:9 - cgroup2 cgroup2 rw
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		unified string
		v1      map[string]string // a subset to check
	}{
		{"hybrid", hybridMountinfo, "/sys/fs/cgroup/unified", map[string]string{
			"cpu": "/sys/fs/cgroup/cpu", "memory": "/sys/fs/cgroup/memory",
			"pids": "/sys/fs/cgroup/pids", "blkio": "/sys/fs/cgroup/blkio", "cpuset": "/sys/fs/cgroup/cpuset",
		}},
		{"unified, first cgroup2 wins", unifiedMountinfo, "/sys/fs/cgroup", nil},
		{"none", "22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n", "", nil},
		{"escaped mount point", `41 31 0:38 / /run/my\040cgroup\134x rw - cgroup2 none rw` + "\n", `/run/my cgroup\x`, nil},
		{"v1 co-mounted", "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:3 - cgroup cgroup rw,cpu,cpuacct\n", "",
			map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct"}},
		{"garbage lines", "nonsense\n - \n1 2 3 - cgroup2\n", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseMountinfo(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if m.unified != tt.unified {
				t.Errorf("unified = %q, want %q", m.unified, tt.unified)
			}
			for c, want := range tt.v1 {
				if got := m.v1[c]; got != want {
					t.Errorf("v1[%s] = %q, want %q", c, got, want)
				}
			}
			if tt.v1 == nil && m.v1["memory"] != "" {
				t.Errorf("v1 memory = %q, want none", m.v1["memory"])
			}
		})
	}
}
