package scheduler

import (
	"testing"
)

func TestCacheCountsAssumedPodsOnce(t *testing.T) {
	c := newCache()
	c.setNode(makeNode("n1"))
	pod := makePod("p", withRequests("cpu", "500m"))
	pi := NewPodInfo(pod)

	c.mu.Lock()
	c.assumeLocked(pi, c.nodes["n1"])
	c.mu.Unlock()
	if got := c.nodes["n1"].Requested.MilliCPU; got != 500 {
		t.Fatalf("assumed pod: node requests %dm, want 500m", got)
	}
	// The binding comes back through the informer: still one pod.
	bound := pod.DeepCopy()
	bound.Spec.NodeName = "n1"
	c.podBound(NewPodInfo(bound))
	if got, n := c.nodes["n1"].Requested.MilliCPU, len(c.nodes["n1"].Pods); got != 500 || n != 1 {
		t.Fatalf("confirmed pod: %dm in %d pods, want 500m in 1", got, n)
	}
	// A late forget (a retried binding that lost) does not undo a confirmed pod.
	c.forget(pi.Key)
	if n := len(c.nodes["n1"].Pods); n != 1 {
		t.Fatalf("forget removed a confirmed pod: %d pods", n)
	}
	c.podGone(pi.Key)
	if got, n := c.nodes["n1"].Requested.MilliCPU, len(c.nodes["n1"].Pods); got != 0 || n != 0 {
		t.Fatalf("after the pod went: %dm in %d pods, want nothing", got, n)
	}
}

func TestCacheForgetsFailedAssumption(t *testing.T) {
	c := newCache()
	c.setNode(makeNode("n1"))
	pi := NewPodInfo(makePod("p", withRequests("cpu", "1")))
	c.mu.Lock()
	c.assumeLocked(pi, c.nodes["n1"])
	c.mu.Unlock()
	c.forget(pi.Key)
	if got := c.nodes["n1"].Requested.MilliCPU; got != 0 {
		t.Fatalf("after forget: %dm requested, want 0", got)
	}
}

func TestCacheKeepsPodsOfNodesNotYetSeen(t *testing.T) {
	c := newCache()
	pod := makePod("early", withRequests("cpu", "2"))
	pod.Spec.NodeName = "late"
	c.podBound(NewPodInfo(pod))
	if nodes, _, _ := c.counts(); nodes != 0 {
		t.Fatalf("a node only a pod names is schedulable: %d nodes", nodes)
	}
	c.setNode(makeNode("late"))
	if got := c.nodes["late"].Requested.MilliCPU; got != 2000 {
		t.Fatalf("node added after its pod: %dm requested, want 2000m", got)
	}
	c.deleteNode("late")
	if nodes, pods, _ := c.counts(); nodes != 0 || pods != 1 {
		t.Fatalf("after node delete: %d nodes, %d pods; want 0 and the pod still counted", nodes, pods)
	}
	c.podGone("default/early")
	if _, ok := c.nodes["late"]; ok {
		t.Fatal("placeholder of a deleted node outlived its last pod")
	}
}
