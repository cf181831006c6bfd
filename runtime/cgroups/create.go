package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Create makes the cgroup at rel, a path relative to the root cgroup such as
// "kubepods/pod<uid>/<container-id>". It creates the missing cgroups on the
// way, enables the usable controllers in each inner one's
// cgroup.subtree_control (never in the leaf's, which is to hold processes),
// and writes the resources the leaf's controllers can enforce.
//
// A resource whose controller is unavailable is not written: it is in the
// returned Cgroup's Skipped with the reason, and logged once per Manager.
// Creating an existing cgroup is fine; its resources are rewritten. On an
// error after the cgroup was made, the cgroup is left for the caller to
// Remove.
func (m *Manager) Create(rel string, r Resources) (*Cgroup, error) {
	if !m.available {
		return nil, fmt.Errorf("cgroup %q: %w", rel, ErrNoHierarchy)
	}
	if err := checkRel(rel); err != nil {
		return nil, fmt.Errorf("cgroup %q: %w", rel, err)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("cgroup %q: invalid resources: %w", rel, err)
	}

	dir := m.rootPath
	parts := strings.Split(rel, "/")
	for i := 0; ; i++ {
		if i > 0 {
			dir = filepath.Join(dir, parts[i-1])
			if err := m.fs.Mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("cgroup %q: %w", rel, err)
			}
		}
		if i == len(parts) {
			break
		}
		if err := m.delegate(dir); err != nil {
			return nil, fmt.Errorf("cgroup %q: %w", rel, err)
		}
	}

	c := &Cgroup{Path: dir, Rel: rel, fs: m.fs}
	skipped, err := m.apply(c, r)
	c.Skipped = skipped
	if err != nil {
		return c, fmt.Errorf("cgroup %q: %w", rel, err)
	}
	return c, nil
}

// delegate enables in the inner cgroup dir's subtree_control the usable
// controllers it has itself.
func (m *Manager) delegate(dir string) error {
	has, err := readSet(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	var want []string
	for _, c := range m.usable {
		if has[c] {
			want = append(want, c)
		}
	}
	refused, err := enable(m.fs, dir, want)
	if err != nil {
		return err
	}
	for _, c := range want {
		if err := refused[c]; err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("enabling %s in %s: %w (an inner cgroup may not hold processes: put them in a leaf)", c, dir, err)
			}
			return fmt.Errorf("enabling %s in %s: %w", c, dir, err)
		}
	}
	return nil
}

// apply writes r's settings that c's controllers can enforce and returns the
// others with the reason.
func (m *Manager) apply(c *Cgroup, r Resources) (map[string]string, error) {
	has, err := readSet(filepath.Join(c.Path, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	var skipped map[string]string
	for _, s := range r.settings() {
		if !has[s.controller] {
			if s.limits {
				if skipped == nil {
					skipped = make(map[string]string)
				}
				skipped[s.file] = m.whyMissing(s.controller, c)
				m.logSkipped(s.file, skipped[s.file])
			}
			continue
		}
		if err := m.fs.WriteFile(filepath.Join(c.Path, s.file), s.value); err != nil {
			return skipped, fmt.Errorf("setting %s to %q: %w", s.file, s.value, err)
		}
	}
	return skipped, nil
}

func (m *Manager) whyMissing(controller string, c *Cgroup) string {
	if reason := m.unavailable[controller]; reason != "" {
		return "the " + controller + " controller is unavailable: " + reason
	}
	return fmt.Sprintf("the %s controller is not enabled for %s", controller, c.Path)
}

func (m *Manager) logSkipped(resource, reason string) {
	m.mu.Lock()
	first := !m.logged[resource]
	m.logged[resource] = true
	m.mu.Unlock()
	if first {
		m.log.Warn("cgroup resource not enforced on this host; logged once", "resource", resource, "reason", reason)
	}
}

// Load returns the existing cgroup at rel, relative to the root cgroup. Its
// error wraps [fs.ErrNotExist] if there is none.
func (m *Manager) Load(rel string) (*Cgroup, error) {
	if !m.available {
		return nil, fmt.Errorf("cgroup %q: %w", rel, ErrNoHierarchy)
	}
	if err := checkRel(rel); err != nil {
		return nil, fmt.Errorf("cgroup %q: %w", rel, err)
	}
	dir := filepath.Join(m.rootPath, rel)
	// cgroup.procs, not the directory: it is in every cgroup and in no
	// other directory.
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return nil, fmt.Errorf("cgroup %q: %w", rel, err)
	}
	return &Cgroup{Path: dir, Rel: rel, fs: m.fs}, nil
}
