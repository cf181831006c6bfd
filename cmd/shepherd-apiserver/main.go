// Command shepherd-apiserver serves the Kubernetes API over etcd, embedded
// by default or external with --etcd-servers.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/apiserver"
	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/internal/version"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "shepherd-apiserver:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	o := apiserver.DefaultOptions()
	var logOpts cli.LogOptions
	var etcdServers string
	cmd := &cobra.Command{
		Use:   "shepherd-apiserver",
		Short: "Serve the Kubernetes API over etcd",
		Long: `shepherd-apiserver serves the Kubernetes REST API. Its state lives in etcd:
an embedded etcd in --data-dir by default, or the cluster --etcd-servers names.`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.Logger("shepherd-apiserver")
			if err != nil {
				return err
			}
			o.Logger = log
			if etcdServers != "" {
				o.EtcdServers = strings.Split(etcdServers, ",")
			}
			ctx, cancel := cli.SignalContext()
			defer cancel()
			return apiserver.Run(ctx, o, nil)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "Address to serve the API on (loopback only until authentication exists).")
	fs.IntVar(&o.Port, "port", o.Port, "Port to serve the API on.")
	fs.StringVar(&etcdServers, "etcd-servers", "", "Comma-separated etcd client URLs of an external cluster; when empty an embedded etcd runs in --data-dir.")
	cli.PathVar(fs, &o.DataDir, "data-dir", o.DataDir, "Directory of the embedded etcd's data.")
	fs.StringVar(&o.EtcdListenClientURL, "etcd-listen-client-url", o.EtcdListenClientURL, "Client URL the embedded etcd listens on.")
	fs.StringVar(&o.EtcdListenPeerURL, "etcd-listen-peer-url", o.EtcdListenPeerURL, "Peer URL the embedded etcd listens on.")
	fs.DurationVar(&o.EtcdCompactionInterval, "etcd-compaction-interval", o.EtcdCompactionInterval, "How often etcd history is compacted, keeping that much history; 0 disables compaction.")
	fs.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", o.ServiceClusterIPRange, "CIDR range service cluster IPs are allocated from.")
	fs.StringVar(&o.ServiceNodePortRange, "service-node-port-range", o.ServiceNodePortRange, "Port range node ports are allocated from.")
	fs.DurationVar(&o.EventTTL, "event-ttl", o.EventTTL, "How long events are kept.")
	fs.IntVar(&o.WatchCacheSize, "watch-cache-size", o.WatchCacheSize, "Recent changes each resource's watch cache keeps for watchers resuming from an older resourceVersion.")
	fs.Int64Var(&o.Admission.DefaultNotReadyTolerationSeconds, admission.KeyDefaultNotReadyTolerationSeconds, o.Admission.DefaultNotReadyTolerationSeconds, "Indicates the tolerationSeconds of the toleration for notReady:NoExecute that is added by default to every pod that does not already have such a toleration. Stored in etcd (ConfigMap kube-system/shepherd-admission): every component admits the pods it creates with it.")
	fs.Int64Var(&o.Admission.DefaultUnreachableTolerationSeconds, admission.KeyDefaultUnreachableTolerationSeconds, o.Admission.DefaultUnreachableTolerationSeconds, "Indicates the tolerationSeconds of the toleration for unreachable:NoExecute that is added by default to every pod that does not already have such a toleration. Stored in etcd (ConfigMap kube-system/shepherd-admission): every component admits the pods it creates with it.")
	logOpts.AddFlags(fs)
	return cmd
}
