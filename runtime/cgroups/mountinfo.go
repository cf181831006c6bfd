package cgroups

import (
	"errors"
	"io"
	"os"

	"github.com/shepherd-lab/shepherd/internal/mountinfo"
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

// parseMountinfo finds the cgroup file systems in a mountinfo file. Lines
// it cannot read are skipped: they cannot be cgroup mounts it could use.
func parseMountinfo(r io.Reader) (cgroupMounts, error) {
	m := cgroupMounts{v1: make(map[string]string)}
	mounts, err := mountinfo.Parse(r)
	if err != nil && !errors.Is(err, mountinfo.ErrMalformed) {
		return m, err
	}
	for _, mt := range mounts {
		switch mt.FSType {
		case "cgroup2":
			if m.unified == "" {
				m.unified = mt.Point
			}
		case "cgroup":
			for _, opt := range mt.SuperOptions {
				if _, seen := m.v1[opt]; !seen {
					m.v1[opt] = mt.Point
				}
			}
		}
	}
	return m, nil
}
