package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/internal/version"
	"github.com/shepherd-lab/shepherd/kubelet"
	"github.com/shepherd-lab/shepherd/storage"
)

// nodeOptions are the node agent's own flags (Kubernetes' names).
type nodeOptions struct {
	etcdServers   string
	nodeName      string
	nodeIP        string
	leaseDuration time.Duration
	runtime       string
	hollowNodes   int
	address       string
	port          int
	clusterDomain string
}

func (n *nodeOptions) addFlags(fs *pflag.FlagSet) {
	host, _ := os.Hostname()
	fs.StringVar(&n.etcdServers, "etcd-servers", "http://127.0.0.1:2379", "Comma-separated etcd client URLs.")
	fs.StringVar(&n.nodeName, "node-name", strings.ToLower(host), "The Node's name (with --hollow-nodes, the prefix of theirs).")
	fs.StringVar(&n.nodeIP, "node-ip", "", "The node's InternalIP (default: the host's first global IPv4 address).")
	fs.DurationVar(&n.leaseDuration, "node-lease-duration", kubelet.DefaultLeaseDuration, "TTL of the node's heartbeat lease, renewed every quarter of it.")
	fs.StringVar(&n.runtime, "runtime", "shepherd", "Container runtime: shepherd (real containers) or hollow (no containers; pods Running at once).")
	fs.StringVar(&n.address, "address", "", "IP address the kubelet's HTTP server (logs, healthz, metrics; plain HTTP without authentication for now) listens on (default: the node IP, so the apiserver can reach it).")
	fs.IntVar(&n.port, "port", kubelet.DefaultPort, "Port of the kubelet's HTTP server.")
	fs.StringVar(&n.clusterDomain, "cluster-domain", kubelet.DefaultClusterDomain, "The cluster's DNS domain: pods with a subdomain get <hostname>.<subdomain>.<namespace>.svc.<domain> in their /etc/hosts.")
	fs.IntVar(&n.hollowNodes, "hollow-nodes", 1, "With --runtime=hollow: how many hollow nodes this process runs (named <node-name>-<i> when more than 1).")
}

func runNodeAgent(o *options, n *nodeOptions) error {
	switch n.runtime {
	case "shepherd", "hollow":
	default:
		return fmt.Errorf("--runtime %q: must be shepherd or hollow", n.runtime)
	}
	if n.hollowNodes < 1 {
		return fmt.Errorf("--hollow-nodes %d: must be at least 1", n.hollowNodes)
	}
	if n.runtime != "hollow" && n.hollowNodes != 1 {
		return errors.New("--hollow-nodes needs --runtime=hollow")
	}
	log, err := o.logger()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.rootDir, 0o700); err != nil {
		return err
	}
	ctx, cancel := cli.SignalContext()
	defer cancel()
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	store, err := storage.Connect(dctx, strings.Split(n.etcdServers, ","), api.Scheme, storage.WithLogger(log))
	dcancel()
	if err != nil {
		return fmt.Errorf("connect to etcd %s: %w", n.etcdServers, err)
	}
	defer store.Close()
	// One admission for the process (every hollow node shares it): it
	// follows the namespaces and the settings the apiserver stores.
	cluster := admission.Follow(store, log)
	var admWG sync.WaitGroup
	admCtx, stopAdmission := context.WithCancel(context.WithoutCancel(ctx))
	admWG.Add(1)
	go func() { defer admWG.Done(); cluster.Run(admCtx) }()
	defer admWG.Wait()
	defer stopAdmission()
	if err := cluster.WaitSynced(ctx); err != nil {
		return nil // stopped before etcd answered
	}
	adm := admission.New(cluster)
	if n.runtime == "shepherd" {
		return runKubelet(ctx, o, n, store, adm)
	}
	errs := make(chan error, n.hollowNodes)
	var wg sync.WaitGroup
	for i := 0; i < n.hollowNodes; i++ {
		name := n.nodeName
		if n.hollowNodes > 1 {
			name = fmt.Sprintf("%s-%d", n.nodeName, i)
		}
		cfg := kubelet.NodeConfig{
			Store: store, Admission: adm, Name: name, NodeIP: n.nodeIP, RootDir: o.rootDir,
			LeaseDuration: n.leaseDuration, Version: version.GitVersion(), Log: log,
		}
		if _, err := kubelet.NewNodeAgent(cfg); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := kubelet.RunHollowNode(ctx, cfg); err != nil {
				errs <- fmt.Errorf("hollow node %s: %w", name, err)
				cancel()
			}
		}()
	}
	log.Info("hollow nodes running", "count", n.hollowNodes, "etcd", n.etcdServers)
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// runKubelet runs the real node agent: pods as containers.
func runKubelet(ctx context.Context, o *options, n *nodeOptions, store *storage.Store, adm *admission.Admission) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	images, err := o.images()
	if err != nil {
		return err
	}
	rt, err := o.runtimeWith(true, true)
	if err != nil {
		return err
	}
	defer rt.Close()
	nodeIP := n.nodeIP
	if nodeIP == "" {
		nodeIP = kubelet.FirstIPv4()
	}
	addr := n.address
	if addr == "" {
		addr = nodeIP
	}
	k, err := kubelet.New(kubelet.Config{
		NodeConfig: kubelet.NodeConfig{
			Store: store, Admission: adm, Name: n.nodeName, NodeIP: nodeIP, RootDir: o.rootDir,
			LeaseDuration: n.leaseDuration, Cgroups: rt.Cgroups(), Version: version.GitVersion(), Log: log,
		},
		Runtime: rt, Images: images, Address: addr, Port: n.port, ClusterDomain: n.clusterDomain,
	})
	if err != nil {
		return err
	}
	log.Info("kubelet running", "node", n.nodeName, "etcd", n.etcdServers, "http", k.Addr().String(), "root-dir", o.rootDir)
	return k.Run(ctx)
}
