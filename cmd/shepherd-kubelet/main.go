// Command shepherd-kubelet is Shepherd's node agent. It also carries the
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

Without a subcommand it is the node agent: it registers the Node, keeps its
heartbeat lease, runs the pods bound to it as containers, writes their status
and serves their logs and metrics on --port. --runtime=hollow runs nodes
without containers (pods Running at once) for scale tests. The subcommands
drive the container runtime directly, on the same --root-dir:

  shepherd-kubelet --etcd-servers=http://127.0.0.1:2379 --node-name=node1
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
	cmd.AddCommand(newRunCommand(o), newExecCommand(o), newPsCommand(o), newLogsCommand(o), newRmCommand(o), newStopCommand(o), newImagesCommand(o))
	return cmd
}
