package benchutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// ModuleRoot finds this module's go.mod from the working directory up: go
// run runs in the caller's directory, go test in the package's. hint names
// the flag that avoids building (e.g. "-shim-binary").
func ModuleRoot(hint string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/shepherd-lab/shepherd\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the github.com/shepherd-lab/shepherd module: run from its checkout, or pass " + hint)
		}
		dir = parent
	}
}

// GoCommand finds the go command: on $PATH (go test puts its own first),
// else in the GOROOT this program was built with.
func GoCommand(hint string) (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("no go command on $PATH or in GOROOT: pass " + hint)
	}
	return p, nil
}
