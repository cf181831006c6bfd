package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

func TestPathVarMakesRelativePathsAbsolute(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "/var/lib/default"},
		{[]string{"--dir", "_output/data/kubelet"}, filepath.Join(wd, "_output/data/kubelet")},
		{[]string{"--dir=./x/../y"}, filepath.Join(wd, "y")},
		{[]string{"--dir", "/abs/path/"}, "/abs/path"},
		{[]string{"--dir", ""}, ""},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var dir string
		PathVar(fs, &dir, "dir", "/var/lib/default", "")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if dir != tt.want {
			t.Errorf("%v: got %q, want %q", tt.args, dir, tt.want)
		}
	}
}
