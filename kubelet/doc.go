// Package kubelet is Shepherd's node agent. This first part keeps the
// host's Node object and heartbeat: NodeAgent registers the Node
// (capacity, addresses, system info, labels, conditions), holds its
// kube-node-lease Lease on an etcd lease that expires by itself when the
// agent dies, and writes node status when it changes and at least every
// StatusReportInterval, as Kubernetes' kubelet does. Pod workers come next.
//
// Probes and lifecycle hooks (prober.go) follow Kubernetes' rules and
// messages: exec, httpGet, tcpSocket and grpc probes, thresholds, initial
// results, `kube-probe/<version>` requests. Pods have no routable address
// yet, so the kubelet reaches a pod's ports from inside its network
// namespace: dialInNetns (netns.go) creates the socket on a thread that
// has entered the sandbox's namespace, then connects it from anywhere.
package kubelet
