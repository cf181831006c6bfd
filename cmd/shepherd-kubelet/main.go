// Command shepherd-kubelet is Shepherd's node agent. Today it carries the
// container runtime's debugging commands (run, ps, logs, rm, stop, images),
// which work on the same --root-dir the node agent uses.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/shepherd-lab/shepherd/runtime/container"
)

func main() {
	// The runtime re-executes this binary as a container's monitor and
	// init stage when shepherd-shim is not installed beside it.
	container.ShimMain()
	if err := newCommand().Execute(); err != nil {
		// A container's own exit code is passed on without comment.
		if _, ok := err.(exitError); !ok {
			fmt.Fprintln(os.Stderr, "shepherd-kubelet:", err)
		}
		os.Exit(exitCode(err))
	}
}

func newCommand() *cobra.Command {
	o := &options{}
	var n nodeOptions
	cmd := &cobra.Command{
		Use:   "shepherd-kubelet",
		Short: "Shepherd's node agent and its container runtime tools",
		Long: `shepherd-kubelet runs a node's pods with Shepherd's own container runtime.

Today the node agent runs hollow nodes only (--runtime=hollow: registration,
heartbeat lease and node status are real; pods become Running at once without
containers, for scale tests); the pod workers that run real containers are
next. The subcommands drive the container runtime directly, on the same
--root-dir:

  shepherd-kubelet --runtime=hollow --hollow-nodes=100 --node-name=hollow
  shepherd-kubelet images import _output/images/busybox.tar
  shepherd-kubelet run --rm busybox echo hello
  shepherd-kubelet run -d --name web busybox sleep 3600
  shepherd-kubelet ps -a ; shepherd-kubelet logs -f web ; shepherd-kubelet rm -f web`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNodeAgent(o, &n)
		},
	}
	o.addFlags(cmd.PersistentFlags())
	n.addFlags(cmd.Flags())
	cmd.AddCommand(newRunCommand(o), newPsCommand(o), newLogsCommand(o), newRmCommand(o), newStopCommand(o), newImagesCommand(o))
	return cmd
}
