// Command shepherd-controller-manager runs Shepherd's controllers:
// deployments, replicasets, node lifecycle, endpoints, garbage collection,
// namespaces and pod GC. It talks only to etcd; copies elect a leader.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/controller/manager"
	"github.com/shepherd-lab/shepherd/storage"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "shepherd-controller-manager:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	o := manager.DefaultOptions()
	var (
		logOpts     cli.LogOptions
		etcdServers = "http://127.0.0.1:2379"
		bindAddress = "127.0.0.1"
		port        = 10257
	)
	cmd := &cobra.Command{
		Use:   "shepherd-controller-manager",
		Short: "Run the controllers that keep the cluster as declared",
		Long: `shepherd-controller-manager runs the deployment, replicaset, node lifecycle,
endpoint, garbage collector, namespace and pod GC controllers. Each follows etcd
through watches and writes with compare-and-swap transactions. With --leader-elect
(the default) copies elect a leader through an etcd lease; the others stand by.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.Logger("shepherd-controller-manager")
			if err != nil {
				return err
			}
			if err := cli.CheckLoopback("--bind-address", bindAddress); err != nil {
				return err
			}
			if err := manager.CheckControllers(o.Controllers); err != nil {
				return err
			}
			if o.NodeEvictionRate <= 0 {
				return fmt.Errorf("--node-eviction-rate %v: must be positive", o.NodeEvictionRate)
			}
			if o.NodeMonitorGracePeriod <= 0 {
				return fmt.Errorf("--node-monitor-grace-period %s: must be positive", o.NodeMonitorGracePeriod)
			}
			if o.LeaderElect && o.LeaseDuration < 2*time.Second {
				return fmt.Errorf("--leader-elect-lease-duration %s: must be at least 2s", o.LeaseDuration)
			}
			ctx, cancel := cli.SignalContext()
			defer cancel()
			dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
			store, err := storage.Connect(dctx, strings.Split(etcdServers, ","), api.Scheme, storage.WithLogger(log))
			dcancel()
			if err != nil {
				return fmt.Errorf("connect to etcd %s: %w", etcdServers, err)
			}
			defer store.Close()
			reg := cli.NewRegistry()
			o.Store, o.Registry, o.Log = store, reg, log
			m, err := manager.New(o)
			if err != nil {
				return err
			}
			healthy := func() error {
				pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer pcancel()
				return store.Ping(pctx)
			}
			if err := cli.ServeHealthAndMetrics(ctx, net.JoinHostPort(bindAddress, strconv.Itoa(port)), reg, healthy, log); err != nil {
				return err
			}
			err = m.Run(ctx)
			if errors.Is(err, manager.ErrLeadershipLost) {
				log.Error("leadership lost; exiting so a restart stands by")
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&etcdServers, "etcd-servers", etcdServers, "Comma-separated etcd client URLs.")
	fs.StringVar(&bindAddress, "bind-address", bindAddress, "Address to serve /metrics and /healthz on (loopback only until authentication exists).")
	fs.IntVar(&port, "port", port, "Port to serve /metrics and /healthz on.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader among copies through an etcd lease; only the leader runs controllers.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a leader that stopped renewing keeps the lease before a standby takes over.")
	fs.StringVar(&o.Identity, "leader-elect-identity", o.Identity, "This copy's name in the leader lease.")
	fs.StringSliceVar(&o.Controllers, "controllers", o.Controllers, "Controllers to run: '*' for all, 'name' to add one, '-name' to leave one out. Known: "+strings.Join(manager.Names, ", ")+".")
	fs.IntVar(&o.ConcurrentSyncs, "concurrent-syncs", o.ConcurrentSyncs, "Workers per controller.")
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", o.NodeMonitorGracePeriod, "How long a node's heartbeat may be missing before it is marked Ready=Unknown and tainted unreachable.")
	fs.Float64Var(&o.NodeEvictionRate, "node-eviction-rate", o.NodeEvictionRate, "Nodes per second whose pods may be evicted.")
	fs.IntVar(&o.TerminatedPodThreshold, "terminated-pod-gc-threshold", o.TerminatedPodThreshold, "Terminated pods kept before the oldest are deleted.")
	// Kept so that existing command lines still start; they do nothing.
	// The settings are the apiserver's, stored in etcd for every writer.
	for _, name := range []string{"default-not-ready-toleration-seconds", "default-unreachable-toleration-seconds"} {
		fs.Int64(name, 300, "Ignored: set it on shepherd-apiserver.")
		fs.MarkDeprecated(name, "it has no effect: set --"+name+" on shepherd-apiserver, which stores it in etcd (ConfigMap kube-system/shepherd-admission) for every component")
	}
	logOpts.AddFlags(fs)
	return cmd
}
