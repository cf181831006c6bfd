package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/runtime/container"
)

func newExecCommand(o *options) *cobra.Command {
	var user, workdir string
	var env []string
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER [--] COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container: in its namespaces, cgroup and root
filesystem, as its user (or --user) with its capabilities, no_new_privs and
seccomp profile. The command's stdout and stderr are printed (stdin is
/dev/null) and its exit code returned. Its environment is only what -e
gives, with PATH, HOSTNAME and HOME defaults. Ctrl-C kills the command and
whatever it started in its session.

  shepherd-kubelet exec web -- cat /etc/hostname
  shepherd-kubelet exec -u nobody -e GREETING=hi -w /tmp web -- sh -c 'id; echo $GREETING'`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			command := args[1:]
			if command[0] == "--" {
				command = command[1:]
			}
			if len(command) == 0 {
				return errors.New("exec: a command is required after CONTAINER")
			}
			rt, err := o.runtime(false)
			if err != nil {
				return err
			}
			st, err := resolveContainer(rt, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := cli.SignalContext()
			defer cancel()
			p := container.Process{Args: command, Env: env, User: user, Cwd: workdir}
			code, err := rt.Exec(ctx, st.ID, p, os.Stdout, os.Stderr)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	// Everything after CONTAINER is the command's, flags included.
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVarP(&user, "user", "u", "", "User: name, uid, uid:gid or name:group (default: the container's).")
	f.StringArrayVarP(&env, "env", "e", nil, "Set an environment variable (NAME=value).")
	f.StringVarP(&workdir, "workdir", "w", "", "Working directory, which must exist (default: the container's).")
	return cmd
}
