package scheduler

import (
	"sync"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
)

// cache is the scheduler's view of node usage: every node, its heartbeat
// lease, and the pods counted against it — the bound ones the pod informer
// reports, plus the assumed ones the scheduler has placed but not yet seen
// bound.
type cache struct {
	mu     sync.Mutex
	nodes  map[string]*NodeInfo // including nodes only pods name (Node == nil)
	list   []*NodeInfo          // the nodes that exist, for the algorithm
	leases map[string]*coordinationv1.Lease
	pods   map[string]*podState // by namespace/name
}

type podState struct {
	node    string
	assumed bool
}

func newCache() *cache {
	return &cache{
		nodes:  map[string]*NodeInfo{},
		leases: map[string]*coordinationv1.Lease{},
		pods:   map[string]*podState{},
	}
}

// nodeInfoLocked returns the NodeInfo for name, creating a placeholder for a
// node not (yet) seen, which holds pods but is not schedulable.
func (c *cache) nodeInfoLocked(name string) *NodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		n = emptyNodeInfo()
		c.nodes[name] = n
	}
	return n
}

// setNode adds or updates a node.
func (c *cache) setNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeInfoLocked(node.Name)
	if n.Node == nil {
		c.list = append(c.list, n)
	}
	n.SetNode(node)
	n.Lease = c.leases[node.Name]
}

// deleteNode removes a node; pods still bound to it stay counted on a
// placeholder until they go.
func (c *cache) deleteNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok || n.Node == nil {
		return
	}
	n.Node = nil
	for i, m := range c.list {
		if m == n {
			c.list[i] = c.list[len(c.list)-1]
			c.list = c.list[:len(c.list)-1]
			break
		}
	}
	if len(n.Pods) == 0 {
		delete(c.nodes, name)
	}
}

// setLease records a node's heartbeat lease (nil: it has none).
func (c *cache) setLease(node string, l *coordinationv1.Lease) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == nil {
		delete(c.leases, node)
	} else {
		c.leases[node] = l
	}
	if n, ok := c.nodes[node]; ok && n.Node != nil {
		n.Lease = l
	}
}

// podBound counts a pod the informer reports bound to a node (confirming it
// if it was assumed there).
func (c *cache) podBound(pi *PodInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node := pi.Pod.Spec.NodeName
	if st, ok := c.pods[pi.Key]; ok && st.node != node {
		c.removeLocked(pi.Key)
	}
	c.nodeInfoLocked(node).AddPod(pi)
	c.pods[pi.Key] = &podState{node: node}
}

// podGone stops counting a pod (deleted, or finished: Succeeded or Failed).
func (c *cache) podGone(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

func (c *cache) removeLocked(key string) {
	st, ok := c.pods[key]
	if !ok {
		return
	}
	delete(c.pods, key)
	n, ok := c.nodes[st.node]
	if !ok {
		return
	}
	n.RemovePod(key)
	if n.Node == nil && len(n.Pods) == 0 {
		delete(c.nodes, st.node)
	}
}

// assumeLocked counts a pod on the node the scheduler chose for it, before
// the binding is written.
func (c *cache) assumeLocked(pi *PodInfo, node *NodeInfo) {
	c.removeLocked(pi.Key)
	node.AddPod(pi)
	c.pods[pi.Key] = &podState{node: node.Node.Name, assumed: true}
}

// forget undoes assumeLocked after a binding failed, unless the pod has
// since been seen bound.
func (c *cache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.pods[key]; ok && st.assumed {
		c.removeLocked(key)
	}
}

// counts reports the nodes and the pods counted on them, for tests and logs.
func (c *cache) counts() (nodes, pods, assumed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.pods {
		if st.assumed {
			assumed++
		}
	}
	return len(c.list), len(c.pods), assumed
}
