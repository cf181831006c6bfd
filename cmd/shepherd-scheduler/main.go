// Command shepherd-scheduler binds pending pods to nodes. It talks only to
// etcd: it watches pods, nodes and node leases, and binds with a
// transaction. Several copies may run; one leads at a time.
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
	"github.com/shepherd-lab/shepherd/scheduler"
	"github.com/shepherd-lab/shepherd/storage"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "shepherd-scheduler:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	o := scheduler.DefaultOptions()
	var (
		logOpts     cli.LogOptions
		etcdServers = "http://127.0.0.1:2379"
		bindAddress = "127.0.0.1"
		port        = 10259
	)
	cmd := &cobra.Command{
		Use:   "shepherd-scheduler",
		Short: "Bind pending pods to nodes",
		Long: `shepherd-scheduler watches pods without a node whose schedulerName is
default-scheduler, picks the best fitting node (filters, then scores), and binds
each with one etcd transaction. With --leader-elect (the default) copies elect a
leader through an etcd lease; the others stand by.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.Logger("shepherd-scheduler")
			if err != nil {
				return err
			}
			if err := cli.CheckLoopback("--bind-address", bindAddress); err != nil {
				return err
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
			s := scheduler.New(o)
			healthy := func() error {
				pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer pcancel()
				return store.Ping(pctx)
			}
			if err := cli.ServeHealthAndMetrics(ctx, net.JoinHostPort(bindAddress, strconv.Itoa(port)), reg, healthy, log); err != nil {
				return err
			}
			err = s.Run(ctx)
			if errors.Is(err, scheduler.ErrLeadershipLost) {
				log.Error("leadership lost; exiting so a restart stands by")
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&etcdServers, "etcd-servers", etcdServers, "Comma-separated etcd client URLs.")
	fs.StringVar(&bindAddress, "bind-address", bindAddress, "Address to serve /metrics and /healthz on (loopback only until authentication exists).")
	fs.IntVar(&port, "port", port, "Port to serve /metrics and /healthz on.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader among copies of the scheduler through an etcd lease; only the leader binds.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "How long a leader that stopped renewing keeps the lease before a standby takes over.")
	fs.StringVar(&o.Identity, "leader-elect-identity", o.Identity, "This copy's name in the leader lease.")
	fs.StringVar(&o.SchedulerName, "scheduler-name", o.SchedulerName, "The spec.schedulerName of the pods this scheduler binds.")
	logOpts.AddFlags(fs)
	return cmd
}
