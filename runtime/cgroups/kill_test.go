package cgroups

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestKillAndRemoveOnFake(t *testing.T) {
	f := newFake(t, fullControllers, true)
	m := openFake(t, f, Options{}, "")
	c1, err := m.Create("pod/c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("pod/c2", Resources{}); err != nil {
		t.Fatal(err)
	}
	if err := c1.AddProc(99); err != nil {
		t.Fatal(err)
	}
	pod, err := m.Load("pod")
	if err != nil {
		t.Fatal(err)
	}

	if err := c1.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := f.writesTo("shepherd/pod/c1/cgroup.kill"); len(got) != 1 || got[0] != "1" {
		t.Errorf("cgroup.kill writes = %q, want one \"1\"", got)
	}

	if err := pod.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.path("shepherd/pod")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pod cgroup still there: %v", err)
	}
	if _, err := os.Stat(f.path("shepherd")); err != nil {
		t.Errorf("Remove went above the pod: %v", err)
	}
	if err := pod.Remove(); err != nil {
		t.Errorf("Remove of a removed cgroup: %v", err)
	}
	if err := c1.Kill(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Kill of a removed cgroup: %v, want fs.ErrNotExist", err)
	}
}
