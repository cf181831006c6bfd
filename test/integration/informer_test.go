package integration

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/shepherd-lab/shepherd/apiserver/apiservertest"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

// seen records what an informer's handlers were told, by object.
type seen struct {
	mu      sync.Mutex
	adds    map[string]int
	updates map[string]int // by "name@resourceVersion": each new version
	deletes map[string]int
	resyncs int
}

func (s *seen) handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.adds[obj.(*corev1.ConfigMap).Name]++
		},
		UpdateFunc: func(old, cur any) {
			s.mu.Lock()
			defer s.mu.Unlock()
			o, c := old.(*corev1.ConfigMap), cur.(*corev1.ConfigMap)
			if o.ResourceVersion == c.ResourceVersion {
				s.resyncs++ // a resync or a relist of an unchanged object
				return
			}
			s.updates[c.Name+"@"+c.ResourceVersion]++
		},
		DeleteFunc: func(obj any) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			s.deletes[obj.(*corev1.ConfigMap).Name]++
		},
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestInformerAcrossRestart runs a shared informer while the apiserver is
// stopped and started again on the same etcd: every create, update and
// delete reaches its handlers exactly once, and resyncs happen.
func TestInformerAcrossRestart(t *testing.T) {
	etcd := storagetest.StartEtcd(t)
	port := freePort(t)
	first := apiservertest.Start(t, apiservertest.WithEtcd(etcd), apiservertest.WithPort(port))
	ctx := testCtx(t)

	rec := &seen{adds: map[string]int{}, updates: map[string]int{}, deletes: map[string]int{}}
	factory := informers.NewSharedInformerFactoryWithOptions(first.Client, time.Second, informers.WithNamespace("default"))
	informer := factory.Core().V1().ConfigMaps().Informer()
	if _, err := informer.AddEventHandlerWithResyncPeriod(rec.handler(), time.Second); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("informer never synced")
	}

	cms := first.Client.CoreV1().ConfigMaps("default")
	var versions []string // every version written, "name@rv"
	write := func(phase string) {
		for i := range 5 {
			name := fmt.Sprintf("%s-%d", phase, i)
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			up, err := cms.Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"v":"2"}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, name+"@"+up.ResourceVersion)
		}
		if err := cms.Delete(ctx, phase+"-0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	write("before")

	// A new apiserver on the same etcd and port. Its watch cache starts
	// empty, so the informer's watch resumes from a revision only etcd
	// still has, while more changes are made.
	first.Stop()
	second := apiservertest.Start(t, apiservertest.WithEtcd(etcd), apiservertest.WithPort(port))
	cms = second.Client.CoreV1().ConfigMaps("default")
	write("after")

	deadline := time.Now().Add(30 * time.Second)
	for {
		rec.mu.Lock()
		done := len(rec.adds) == 10 && len(rec.updates) == 10 && len(rec.deletes) == 2 && rec.resyncs > 0
		rec.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			rec.mu.Lock()
			t.Fatalf("after 30s: adds %v updates %v deletes %v resyncs %d", rec.adds, rec.updates, rec.deletes, rec.resyncs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // long enough for duplicates to show
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for name, n := range rec.adds {
		if n != 1 {
			t.Errorf("%s added %d times", name, n)
		}
	}
	for _, v := range versions {
		if rec.updates[v] != 1 {
			t.Errorf("update to %s seen %d times", v, rec.updates[v])
		}
	}
	for _, name := range []string{"before-0", "after-0"} {
		if rec.deletes[name] != 1 {
			t.Errorf("delete of %s seen %d times", name, rec.deletes[name])
		}
	}
	if rec.resyncs == 0 {
		t.Error("no resync in 2s with a 1s resync period")
	}
}
