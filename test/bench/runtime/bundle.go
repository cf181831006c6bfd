package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// makeBundle writes an OCI bundle in dir for runc and crun: the default
// config of `<tool> spec` (tool is runc or crun, whichever is installed),
// edited by editConfig to run /bin/true on rootfs read-only.
func makeBundle(tool, dir, rootfs string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(tool, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s spec: %w: %s", tool, err, out)
	}
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edited, err := editConfig(raw, rootfs)
	if err != nil {
		return fmt.Errorf("%s spec's config.json: %w", tool, err)
	}
	return os.WriteFile(path, edited, 0o644)
}

// editConfig makes a default OCI config run /bin/true without a terminal
// on rootfs, read-only so that the runtimes leave the shared layer
// directory as it is, in the namespaces Shepherd gives a container: the
// default ones (pid, network, ipc, uts, mount) and cgroup, added if absent.
// Everything else (mounts, capabilities, masked paths, rlimits) stays as
// the tool generated it. Fields it does not know are kept.
func editConfig(raw []byte, rootfs string) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	process, ok1 := cfg["process"].(map[string]any)
	linux, ok2 := cfg["linux"].(map[string]any)
	if !ok1 || !ok2 {
		return nil, errors.New("no process or linux object")
	}
	process["args"] = []string{"/bin/true"}
	process["terminal"] = false
	cfg["root"] = map[string]any{"path": rootfs, "readonly": true}
	nss, _ := linux["namespaces"].([]any)
	have := map[string]bool{}
	for _, ns := range nss {
		if m, ok := ns.(map[string]any); ok {
			t, _ := m["type"].(string)
			have[t] = true
		}
	}
	for _, t := range []string{"pid", "network", "ipc", "uts", "mount", "cgroup"} {
		if !have[t] {
			nss = append(nss, map[string]any{"type": t})
		}
	}
	linux["namespaces"] = nss
	return json.MarshalIndent(cfg, "", "\t")
}
