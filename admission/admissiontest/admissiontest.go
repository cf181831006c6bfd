// Package admissiontest gives tests the admission a component other than
// the apiserver runs: admission.Follow over the test's store, synced before
// it is returned and stopped when the test ends.
package admissiontest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

// Follow returns an Admission following store's cluster.
func Follow(t testing.TB, store *storage.Store) *admission.Admission {
	t.Helper()
	cluster := admission.Follow(store, storagetest.Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); cluster.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := cluster.WaitSynced(wctx); err != nil {
		t.Fatalf("admission informers: %v", err)
	}
	return admission.New(cluster)
}
