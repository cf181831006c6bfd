package cli

import (
	"path/filepath"

	"github.com/spf13/pflag"
)

// PathVar defines a flag naming a file or directory. A relative path is
// made absolute against the working directory when the flag is parsed:
// components hand their paths to the kernel (mount sources, a container's
// root) and to child processes that run elsewhere, where a relative path
// means something else or is refused. An empty value stays empty.
func PathVar(fs *pflag.FlagSet, p *string, name, value, usage string) {
	*p = value
	fs.Var((*absPath)(p), name, usage)
}

type absPath string

func (a *absPath) String() string { return string(*a) }
func (a *absPath) Type() string   { return "path" }

func (a *absPath) Set(v string) error {
	if v == "" {
		*a = ""
		return nil
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return err
	}
	*a = absPath(abs)
	return nil
}
