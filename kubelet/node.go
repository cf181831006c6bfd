package kubelet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/storage"
)

// Defaults, as Kubernetes' kubelet.
const (
	DefaultLeaseDuration        = 40 * time.Second
	DefaultStatusReportInterval = 5 * time.Minute
	DefaultMaxPods              = 110
)

// ConditionCgroupLimits is a node condition of Shepherd's own: True when
// the host's cgroup v2 hierarchy lets the kubelet enforce CPU, memory and
// pid limits, False (with the controllers missing and why) otherwise.
const ConditionCgroupLimits corev1.NodeConditionType = "CgroupLimitsEnforced"

// NodeConfig configures a NodeAgent.
type NodeConfig struct {
	Store *storage.Store
	// Admission prepares every object the node writes (its Node, Lease,
	// pods' status and deletions, events), as the apiserver's handlers do
	// theirs. Required.
	Admission *admission.Admission
	// Name is the Node's name (the hostname by default, as --node-name).
	Name string
	// NodeIP is the InternalIP address; "" picks the first global
	// unicast IPv4 address of the host.
	NodeIP string
	// RootDir's filesystem is the node's ephemeral-storage capacity.
	RootDir string
	// LeaseDuration is the heartbeat lease's TTL, renewed every quarter.
	LeaseDuration time.Duration
	// StatusReportInterval bounds how long node status goes unwritten
	// when nothing changes.
	StatusReportInterval time.Duration
	MaxPods              int64
	// Port is the kubelet's HTTP port, published as
	// status.daemonEndpoints.kubeletEndpoint (0: none, a hollow node).
	Port int32
	// Cgroups says what limits the node can enforce; nil means none.
	Cgroups *cgroups.Manager
	// Version is reported as the kubelet and runtime version.
	Version string
	Log     *slog.Logger
}

// NodeAgent keeps one Node and its heartbeat Lease.
type NodeAgent struct {
	cfg NodeConfig
	log *slog.Logger
	now func() time.Time
}

// NewNodeAgent fills in NodeConfig defaults.
func NewNodeAgent(cfg NodeConfig) (*NodeAgent, error) {
	if cfg.Store == nil || cfg.Admission == nil || cfg.Name == "" {
		return nil, errors.New("kubelet: Store, Admission and Name are required")
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.LeaseDuration < 4*time.Second {
		return nil, fmt.Errorf("node lease duration %s: must be at least 4s", cfg.LeaseDuration)
	}
	if cfg.StatusReportInterval == 0 {
		cfg.StatusReportInterval = DefaultStatusReportInterval
	}
	if cfg.MaxPods == 0 {
		cfg.MaxPods = DefaultMaxPods
	}
	if cfg.RootDir == "" {
		cfg.RootDir = "/"
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NodeAgent{cfg: cfg, log: log.With("node", cfg.Name), now: time.Now}, nil
}

// Run registers the node, then keeps its lease and status until ctx ends.
// On return the lease is revoked, so the node stops being alive at once
// rather than after its TTL.
func (a *NodeAgent) Run(ctx context.Context) error {
	status, err := a.observe()
	if err != nil {
		return err
	}
	if err := a.register(ctx, status); err != nil {
		return err
	}
	lease, err := a.acquireLease(ctx)
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		a.cfg.Store.RevokeLease(rctx, lease)
	}()
	renew := time.NewTicker(a.cfg.LeaseDuration / 4)
	defer renew.Stop()
	observe := time.NewTicker(10 * time.Second)
	defer observe.Stop()
	nodes := storage.NewTyped[*corev1.Node](a.cfg.Store, api.Nodes.Storage)
	reported := a.now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
			if err := a.renewLease(ctx, lease); errors.Is(err, errLeaseLost) {
				a.log.Warn("heartbeat lease lost; acquiring a new one", "err", err)
				if lease, err = a.acquireLease(ctx); err != nil && ctx.Err() == nil {
					a.log.Error("acquire heartbeat lease", "err", err)
				}
			} else if err != nil && ctx.Err() == nil {
				a.log.Warn("renew heartbeat lease", "err", err)
			}
		case <-observe.C:
			next, err := a.observe()
			if err != nil {
				a.log.Warn("observe node", "err", err)
				continue
			}
			// Compared with the Node as stored, not only with what this
			// kubelet wrote last: a status someone else changed (the node
			// lifecycle controller's Unknown after a stalled heartbeat) is
			// put right at the next look, as Kubernetes' kubelet does.
			changed := !sameStatus(status, next)
			if stored, err := nodes.Get(ctx, "", a.cfg.Name); err == nil && !sameStatus(&stored.Status, a.mergeConditions(&stored.Status, next)) {
				changed = true
			}
			if changed || a.now().Sub(reported) >= a.cfg.StatusReportInterval {
				if err := a.writeStatus(ctx, next); err != nil {
					a.log.Warn("write node status", "err", err)
					continue
				}
				status, reported = next, a.now()
			}
		}
	}
}

// sameStatus compares what the kubelet reports, ignoring heartbeat times.
func sameStatus(a, b *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) *corev1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
			c.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		return c
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// register creates the Node, or takes over an existing one (a restarted
// kubelet, or a node registered before), writing its labels and status.
func (a *NodeAgent) register(ctx context.Context, status *corev1.NodeStatus) error {
	nodes := storage.NewTyped[*corev1.Node](a.cfg.Store, api.Nodes.Storage)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Labels: a.labels()},
		Status:     *status,
	}
	if err := a.cfg.Admission.Create(ctx, api.Nodes, node); err != nil {
		return fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	err := nodes.Create(ctx, node)
	if err == nil {
		a.log.Info("registered node")
		return nil
	}
	if !errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	_, err = nodes.GuaranteedUpdate(ctx, "", a.cfg.Name, func(cur *corev1.Node) (*corev1.Node, error) {
		next := cur.DeepCopy()
		if next.Labels == nil {
			next.Labels = map[string]string{}
		}
		for k, v := range a.labels() {
			next.Labels[k] = v
		}
		if err := a.cfg.Admission.Update(ctx, api.Nodes, next, cur); err != nil {
			return nil, err
		}
		withStatus := next.DeepCopy()
		withStatus.Status = *a.mergeConditions(&cur.Status, status)
		return withStatus, a.cfg.Admission.UpdateStatus(ctx, api.Nodes, withStatus, next)
	})
	if err != nil {
		return fmt.Errorf("update registered node %s: %w", a.cfg.Name, err)
	}
	a.log.Info("node was registered before; updated it")
	return nil
}

func (a *NodeAgent) writeStatus(ctx context.Context, status *corev1.NodeStatus) error {
	nodes := storage.NewTyped[*corev1.Node](a.cfg.Store, api.Nodes.Storage)
	_, err := nodes.GuaranteedUpdate(ctx, "", a.cfg.Name, func(cur *corev1.Node) (*corev1.Node, error) {
		next := cur.DeepCopy()
		next.Status = *a.mergeConditions(&cur.Status, status)
		return next, a.cfg.Admission.UpdateStatus(ctx, api.Nodes, next, cur)
	})
	if errors.Is(err, storage.ErrNotFound) {
		// Deleted (kubectl delete node): register again, as the kubelet does.
		return a.register(ctx, status)
	}
	return err
}

// mergeConditions keeps a condition's lastTransitionTime while its status
// stays the same.
func (a *NodeAgent) mergeConditions(cur, next *corev1.NodeStatus) *corev1.NodeStatus {
	out := next.DeepCopy()
	for i, c := range out.Conditions {
		for _, old := range cur.Conditions {
			if old.Type == c.Type && old.Status == c.Status && !old.LastTransitionTime.IsZero() {
				out.Conditions[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return out
}

func (a *NodeAgent) labels() map[string]string {
	return map[string]string{
		corev1.LabelHostname:      a.cfg.Name,
		corev1.LabelOSStable:      goruntime.GOOS,
		corev1.LabelArchStable:    goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
}

// observe reads what the node reports: capacity, addresses, system info
// and conditions.
func (a *NodeAgent) observe() (*corev1.NodeStatus, error) {
	mem, err := memTotal()
	if err != nil {
		return nil, err
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(a.cfg.RootDir, &fs); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", a.cfg.RootDir, err)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(a.cfg.MaxPods, resource.DecimalSI),
	}
	ip := a.cfg.NodeIP
	if ip == "" {
		ip = FirstIPv4()
	}
	var addrs []corev1.NodeAddress
	if ip != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: a.cfg.Name})
	now := metav1.NewTime(a.now())
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	limitsStatus, limitsReason, limitsMsg := a.cgroupLimits()
	return &corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Addresses:   addrs,
		NodeInfo:    a.nodeInfo(),
		DaemonEndpoints: corev1.NodeDaemonEndpoints{
			KubeletEndpoint: corev1.DaemonEndpoint{Port: a.cfg.Port},
		},
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
			cond(ConditionCgroupLimits, limitsStatus, limitsReason, limitsMsg),
		},
	}, nil
}

// cgroupLimits reports which of cpu, memory and pids the node enforces.
func (a *NodeAgent) cgroupLimits() (corev1.ConditionStatus, string, string) {
	m := a.cfg.Cgroups
	if m == nil {
		return corev1.ConditionFalse, "NoCgroupManager", "this kubelet enforces no CPU, memory or pid limits (a hollow node, or no cgroup set-up)"
	}
	if !m.Available() {
		return corev1.ConditionFalse, "NoCgroupV2", "no usable cgroup v2 hierarchy: containers run without CPU, memory or pid limits"
	}
	un := m.Unavailable()
	var missing []string
	for _, c := range []string{"cpu", "memory", "pids"} {
		if why, ok := un[c]; ok {
			missing = append(missing, c+": "+why)
		}
	}
	if len(missing) == 0 {
		return corev1.ConditionTrue, "AllControllers", "cgroup v2 controllers " + strings.Join(m.Controllers(), ", ")
	}
	sort.Strings(missing)
	return corev1.ConditionFalse, "ControllersUnavailable", "not enforced: " + strings.Join(missing, "; ")
}

func (a *NodeAgent) nodeInfo() corev1.NodeSystemInfo {
	var u unix.Utsname
	unix.Uname(&u)
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	machineID, _ := os.ReadFile("/etc/machine-id")
	return corev1.NodeSystemInfo{
		MachineID:               strings.TrimSpace(string(machineID)),
		BootID:                  strings.TrimSpace(string(bootID)),
		KernelVersion:           unix.ByteSliceToString(u.Release[:]),
		OSImage:                 osImage(),
		OperatingSystem:         goruntime.GOOS,
		Architecture:            goruntime.GOARCH,
		ContainerRuntimeVersion: "shepherd://" + a.cfg.Version,
		KubeletVersion:          a.cfg.Version,
		KubeProxyVersion:        a.cfg.Version,
	}
}

// osImage is /etc/os-release's PRETTY_NAME.
func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb * 1024, nil
		}
	}
	return 0, errors.New("/proc/meminfo: no MemTotal")
}

// FirstIPv4 is the host's first global unicast IPv4 address ("" if none):
// the default node IP.
func FirstIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

var errLeaseLost = errors.New("heartbeat lease lost")

// acquireLease creates (or replaces) the node's Lease on a new etcd lease.
func (a *NodeAgent) acquireLease(ctx context.Context) (storage.LeaseID, error) {
	id, err := a.cfg.Store.GrantLease(ctx, a.cfg.LeaseDuration)
	if err != nil {
		return 0, err
	}
	leases := storage.NewTyped[*coordinationv1.Lease](a.cfg.Store, api.Leases.Storage)
	now := metav1.NewMicroTime(a.now())
	obj := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: a.cfg.Name},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(a.cfg.Name),
			LeaseDurationSeconds: ptr.To(int32(a.cfg.LeaseDuration / time.Second)),
			RenewTime:            &now,
		},
	}
	if err := a.cfg.Admission.Create(ctx, api.Leases, obj); err != nil {
		return 0, err
	}
	err = leases.Create(ctx, obj, storage.WithLease(id))
	if errors.Is(err, storage.ErrAlreadyExists) {
		// Left by this node's previous kubelet (its etcd lease not yet
		// expired): take it over on the new etcd lease.
		_, err = leases.GuaranteedUpdate(ctx, corev1.NamespaceNodeLease, a.cfg.Name, func(cur *coordinationv1.Lease) (*coordinationv1.Lease, error) {
			next := cur.DeepCopy()
			next.Spec = obj.Spec
			return next, a.cfg.Admission.Update(ctx, api.Leases, next, cur)
		}, storage.WithLease(id))
	}
	if err != nil {
		a.cfg.Store.RevokeLease(context.WithoutCancel(ctx), id)
		return 0, fmt.Errorf("node lease %s: %w", a.cfg.Name, err)
	}
	return id, nil
}

// renewLease refreshes the etcd lease and the Lease's renewTime (which
// the scheduler and the node lifecycle controller read).
func (a *NodeAgent) renewLease(ctx context.Context, id storage.LeaseID) error {
	if err := a.cfg.Store.KeepAliveOnce(ctx, id); err != nil {
		if storage.IsLeaseNotFound(err) {
			return fmt.Errorf("%w: %v", errLeaseLost, err)
		}
		return err
	}
	leases := storage.NewTyped[*coordinationv1.Lease](a.cfg.Store, api.Leases.Storage)
	_, err := leases.GuaranteedUpdate(ctx, corev1.NamespaceNodeLease, a.cfg.Name, func(cur *coordinationv1.Lease) (*coordinationv1.Lease, error) {
		next := cur.DeepCopy()
		now := metav1.NewMicroTime(a.now())
		next.Spec.RenewTime = &now
		return next, a.cfg.Admission.Update(ctx, api.Leases, next, cur)
	}, storage.WithLease(id))
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: the Lease object is gone", errLeaseLost)
	}
	return err
}
