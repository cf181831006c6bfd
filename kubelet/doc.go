// Package kubelet is Shepherd's node agent. This first part keeps the
// host's Node object and heartbeat: NodeAgent registers the Node
// (capacity, addresses, system info, labels, conditions), holds its
// kube-node-lease Lease on an etcd lease that expires by itself when the
// agent dies, and writes node status when it changes and at least every
// StatusReportInterval, as Kubernetes' kubelet does. Pod workers come next.
package kubelet
