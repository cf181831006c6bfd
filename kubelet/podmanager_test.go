package kubelet

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A worker whose first sync comes before it has its pod must wait for
// it, not tear the pod down as one that went: the podManager then forgets
// the worker, and a pod that nothing changes again never starts (seen as
// 1 or 2 of 100 pods stuck Pending in the kubelet benchmark).
func TestWorkerWithoutItsPodWaits(t *testing.T) {
	k := &Kubelet{cfg: Config{ResyncInterval: 7 * time.Second}, log: slog.New(slog.DiscardHandler)}
	m := newPodManager(k)
	w := newPodWorker(m, "uid-1", nil)
	m.workers["uid-1"] = w
	done, next := w.sync(context.Background())
	if done || next != 7*time.Second {
		t.Fatalf("sync without a pod: done %v, next %v; want it to wait a resync", done, next)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workers["uid-1"] != w {
		t.Fatal("the worker was forgotten")
	}
}
