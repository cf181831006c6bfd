package storage_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

// electionWait bounds waits for an election to move on: generous, since
// the tests run under the race detector on shared machines.
const electionWait = 20 * time.Second

const (
	electionNS   = "kube-system"
	electionName = "test-controller"
)

func electionConfig(identity string, d time.Duration, log *slog.Logger) storage.ElectionConfig {
	return storage.ElectionConfig{
		Leases:    api.Leases.Storage,
		Namespace: electionNS, Name: electionName,
		Identity: identity, LeaseDuration: d, Log: log,
	}
}

// connect returns another store on the etcd at endpoints.
func connect(t *testing.T, endpoints []string) *storage.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.Connect(ctx, endpoints, api.Scheme)
	if err != nil {
		t.Fatalf("connect to etcd: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// campaign wins an election at once or fails the test; the leadership is
// resigned when the test ends.
func campaign(t *testing.T, ctx context.Context, s *storage.Store, cfg storage.ElectionConfig) *storage.Leadership {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, electionWait)
	defer cancel()
	l, err := s.Campaign(cctx, cfg)
	if err != nil {
		t.Fatalf("%s campaigns: %v", cfg.Identity, err)
	}
	t.Cleanup(func() { _ = l.Resign(context.Background()) })
	return l
}

type campaignResult struct {
	l   *storage.Leadership
	err error
	at  time.Time
}

// campaignAsync campaigns in the background; the campaign ends with the
// test, and a leadership won is resigned.
func campaignAsync(t *testing.T, s *storage.Store, cfg storage.ElectionConfig) <-chan campaignResult {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan campaignResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l, err := s.Campaign(ctx, cfg)
		ch <- campaignResult{l, err, time.Now()}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		select {
		case r := <-ch:
			if r.l != nil {
				_ = r.l.Resign(context.Background())
			}
		default: // the test took the result, and resigns it itself
		}
	})
	return ch
}

func awaitCampaign(t *testing.T, ch <-chan campaignResult, who string) campaignResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s's campaign failed: %v", who, r.err)
		}
		t.Cleanup(func() { _ = r.l.Resign(context.Background()) })
		return r
	case <-time.After(electionWait):
		t.Fatalf("%s did not win the election within %s", who, electionWait)
		return campaignResult{}
	}
}

func holder(t *testing.T, ctx context.Context, s *storage.Store) *coordinationv1.Lease {
	t.Helper()
	obj, err := s.Get(ctx, api.Leases.Storage, electionNS, electionName)
	if err != nil {
		t.Fatalf("get lease %s/%s: %v", electionNS, electionName, err)
	}
	return obj.(*coordinationv1.Lease)
}

func expectHolder(t *testing.T, ctx context.Context, s *storage.Store, identity string) *coordinationv1.Lease {
	t.Helper()
	l := holder(t, ctx, s)
	if got := ptr.Deref(l.Spec.HolderIdentity, ""); got != identity {
		t.Fatalf("lease %s/%s held by %q, want %q", electionNS, electionName, got, identity)
	}
	return l
}

func expectLost(t *testing.T, l *storage.Leadership, who string) {
	t.Helper()
	select {
	case <-l.Lost():
	case <-time.After(electionWait):
		t.Fatalf("%s's leadership not reported lost within %s", who, electionWait)
	}
}

func expectNotLost(t *testing.T, l *storage.Leadership, who string) {
	t.Helper()
	select {
	case <-l.Lost():
		t.Fatalf("%s's leadership reported lost", who)
	default:
	}
}

// TestCampaignFirstWinsSecondWaitsForResign: the first candidate leads at
// once and the Lease object names it; a second candidate waits while it
// leads, and takes over promptly (not after the lease duration) when it
// resigns.
func TestCampaignFirstWinsSecondWaitsForResign(t *testing.T) {
	log := storagetest.Logger(t)
	s, ctx := newStore(t), testContext(t)
	// A long lease: a takeover well before it runs out is due to Resign.
	const leaseDuration = time.Minute

	a := campaign(t, ctx, s, electionConfig("a", leaseDuration, log))
	lease := expectHolder(t, ctx, s, "a")
	if d := ptr.Deref(lease.Spec.LeaseDurationSeconds, 0); d != 60 {
		t.Errorf("lease records a duration of %ds, want 60", d)
	}
	if lease.Spec.AcquireTime == nil || lease.Spec.RenewTime == nil {
		t.Errorf("lease records acquire time %v and renew time %v, want both set", lease.Spec.AcquireTime, lease.Spec.RenewTime)
	}

	b := campaignAsync(t, s, electionConfig("b", leaseDuration, log))
	select {
	case r := <-b:
		t.Fatalf("b's campaign returned (%v, %v) while a leads", r.l, r.err)
	case <-time.After(time.Second):
	}
	expectNotLost(t, a, "a")

	resigned := time.Now()
	rctx, cancel := context.WithTimeout(ctx, electionWait)
	defer cancel()
	if err := a.Resign(rctx); err != nil {
		t.Fatalf("a resigns: %v", err)
	}
	expectLost(t, a, "a")
	r := awaitCampaign(t, b, "b")
	if took := r.at.Sub(resigned); took > leaseDuration/3 {
		t.Fatalf("b took over %s after a resigned; want well within the lease duration of %s", took, leaseDuration)
	}
	expectHolder(t, ctx, s, "b")
	expectNotLost(t, r.l, "b")
	if r.l.Fence() == a.Fence() {
		t.Fatalf("b's fence %+v is a's", r.l.Fence())
	}
}

// TestCampaignEndsWithContext: a standby's campaign returns when its
// context ends.
func TestCampaignEndsWithContext(t *testing.T) {
	log := storagetest.Logger(t)
	s, ctx := newStore(t), testContext(t)
	campaign(t, ctx, s, electionConfig("a", time.Minute, log))
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	l, err := s.Campaign(cctx, electionConfig("b", time.Minute, log))
	if err == nil {
		_ = l.Resign(ctx)
		t.Fatal("b won the election while a leads")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b's campaign failed with %v, want the context's deadline", err)
	}
	expectHolder(t, ctx, s, "a")
}

// TestCampaignRefusesShortLease: a lease under 2s is refused.
func TestCampaignRefusesShortLease(t *testing.T) {
	s, ctx := newStore(t), testContext(t)
	if l, err := s.Campaign(ctx, electionConfig("a", time.Second, storagetest.Logger(t))); err == nil {
		_ = l.Resign(ctx)
		t.Fatal("campaign with a 1s lease succeeded")
	}
	if _, err := s.Get(ctx, api.Leases.Storage, electionNS, electionName); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("refused campaign left a lease behind: %v", err)
	}
}

// TestLeaderKeepsLeadershipByRenewing: a live leader stays leader well past
// its lease duration, and the Lease object shows the renewals.
func TestLeaderKeepsLeadershipByRenewing(t *testing.T) {
	log := storagetest.Logger(t)
	s, ctx := newStore(t), testContext(t)
	a := campaign(t, ctx, s, electionConfig("a", 2*time.Second, log))
	first := expectHolder(t, ctx, s, "a")
	time.Sleep(5 * time.Second)
	expectNotLost(t, a, "a")
	later := expectHolder(t, ctx, s, "a")
	if !later.Spec.RenewTime.After(first.Spec.RenewTime.Time) {
		t.Fatalf("renew time %v not after the first %v", later.Spec.RenewTime, first.Spec.RenewTime)
	}
	if !later.Spec.AcquireTime.Equal(first.Spec.AcquireTime) {
		t.Fatalf("acquire time changed from %v to %v while a kept leading", first.Spec.AcquireTime, later.Spec.AcquireTime)
	}
	// Its fence still holds.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}}
	if err := s.Create(ctx, api.ConfigMaps.Storage, cm, storage.WithFence(a.Fence())); err != nil {
		t.Fatalf("create with a live leader's fence: %v", err)
	}
}

// TestDeadLeaderIsReplaced: a leader that dies without resigning (its etcd
// connection closed) is replaced once its lease runs out, by a standby
// that was waiting.
func TestDeadLeaderIsReplaced(t *testing.T) {
	log := storagetest.Logger(t)
	endpoints := storagetest.StartEtcd(t)
	s, ctx := connect(t, endpoints), testContext(t)
	dying := connect(t, endpoints)
	const leaseDuration = 2 * time.Second

	a := campaign(t, ctx, dying, electionConfig("a", leaseDuration, log))
	b := campaignAsync(t, s, electionConfig("b", leaseDuration, log))
	select {
	case r := <-b:
		t.Fatalf("b's campaign returned (%v, %v) while a leads", r.l, r.err)
	case <-time.After(time.Second):
	}
	expectHolder(t, ctx, s, "a")

	died := time.Now()
	lostAt := make(chan time.Time, 1)
	go func() {
		select {
		case <-a.Lost():
			lostAt <- time.Now()
		case <-time.After(2 * electionWait):
		}
	}()
	if err := dying.Close(); err != nil {
		t.Fatalf("close a's store: %v", err)
	}
	r := awaitCampaign(t, b, "b")
	t.Logf("b took over %s after a died (lease duration %s)", r.at.Sub(died).Round(time.Millisecond), leaseDuration)
	expectHolder(t, ctx, s, "b")
	// a, cut off, learns it no longer leads.
	select {
	case at := <-lostAt:
		t.Logf("a's Lost closed %s after a died, %s after b won", at.Sub(died).Round(time.Millisecond), at.Sub(r.at).Round(time.Millisecond))
	case <-time.After(electionWait):
		t.Fatalf("a's leadership not reported lost within %s", electionWait)
	}
	expectNotLost(t, r.l, "b")

	// a's writes are fenced off; b's land.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}}
	if err := s.Create(ctx, api.ConfigMaps.Storage, cm, storage.WithFence(a.Fence())); !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("create with the dead leader's fence: %v, want ErrFenced", err)
	}
	if err := s.Create(ctx, api.ConfigMaps.Storage, cm, storage.WithFence(r.l.Fence())); err != nil {
		t.Fatalf("create with the new leader's fence: %v", err)
	}
	// Deletes too: the dead leader's is refused and the object stays.
	if _, err := s.Delete(ctx, api.ConfigMaps.Storage, "default", "cm", nil, storage.WithFence(a.Fence())); !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("delete with the dead leader's fence: %v, want ErrFenced", err)
	}
	if _, err := s.Delete(ctx, api.ConfigMaps.Storage, "default", "cm", nil, storage.WithFence(r.l.Fence())); err != nil {
		t.Fatalf("delete with the new leader's fence: %v", err)
	}
}

// TestFenceRejectsWritesOfLostLeadership: writes carrying a leadership's
// fence land while it leads; once another candidate has taken over, an
// update or create with the old fence fails with ErrFenced and changes
// nothing, while the same write with the new leader's fence lands.
func TestFenceRejectsWritesOfLostLeadership(t *testing.T) {
	log := storagetest.Logger(t)
	s, ctx := newStore(t), testContext(t)
	cms := api.ConfigMaps.Storage

	a := campaign(t, ctx, s, electionConfig("a", time.Minute, log))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "owned"}, Data: map[string]string{"by": "a"}}
	if err := s.Create(ctx, cms, cm, storage.WithFence(a.Fence())); err != nil {
		t.Fatalf("create with the leader's fence: %v", err)
	}
	next := cm.DeepCopy()
	next.Data["by"] = "a again"
	if err := s.Update(ctx, cms, cm, next, storage.WithFence(a.Fence())); err != nil {
		t.Fatalf("update with the leader's fence: %v", err)
	}
	cm = next

	b := campaignAsync(t, s, electionConfig("b", time.Minute, log))
	if err := a.Resign(ctx); err != nil {
		t.Fatalf("a resigns: %v", err)
	}
	expectLost(t, a, "a")
	// Once resigned, a's fence no longer holds, whether or not b has won
	// yet.
	stale := cm.DeepCopy()
	stale.Data["by"] = "a, after resigning"
	if err := s.Update(ctx, cms, cm, stale, storage.WithFence(a.Fence())); !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("update with a resigned leader's fence: %v, want ErrFenced", err)
	}
	bl := awaitCampaign(t, b, "b").l
	expectHolder(t, ctx, s, "b")

	// Update: a's fence fails, b's lands.
	stale = cm.DeepCopy()
	stale.Data["by"] = "a, deposed"
	err := s.Update(ctx, cms, cm, stale, storage.WithFence(a.Fence()))
	if !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("update with the old leader's fence: %v, want ErrFenced", err)
	}
	if !strings.Contains(err.Error(), "owned") {
		t.Errorf("fenced error %q does not name the object", err)
	}
	got, err := s.Get(ctx, cms, "default", "owned")
	if err != nil {
		t.Fatal(err)
	}
	if got.(*corev1.ConfigMap).Data["by"] != "a again" || got.(*corev1.ConfigMap).ResourceVersion != cm.ResourceVersion {
		t.Fatalf("fenced update changed the object: %v", got.(*corev1.ConfigMap).Data)
	}
	fresh := cm.DeepCopy()
	fresh.Data["by"] = "b"
	if err := s.Update(ctx, cms, cm, fresh, storage.WithFence(bl.Fence())); err != nil {
		t.Fatalf("update with the new leader's fence: %v", err)
	}
	// A fenced write is told ErrFenced even when a second fence holds.
	stale = fresh.DeepCopy()
	stale.Data["by"] = "both"
	if err := s.Update(ctx, cms, fresh, stale, storage.WithFence(bl.Fence()), storage.WithFence(a.Fence())); !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("update with a held and a stale fence: %v, want ErrFenced", err)
	}

	// Create: a's fence fails and stores nothing, b's lands.
	created := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "created"}}
	if err := s.Create(ctx, cms, created, storage.WithFence(a.Fence())); !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("create with the old leader's fence: %v, want ErrFenced", err)
	}
	if _, err := s.Get(ctx, cms, "default", "created"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("fenced create stored the object: %v", err)
	}
	if err := s.Create(ctx, cms, created, storage.WithFence(bl.Fence())); err != nil {
		t.Fatalf("create with the new leader's fence: %v", err)
	}
}

// TestLeadershipLostWhenLeaseDeleted: a leader whose Lease object is
// deleted (by an administrator, say) learns it no longer leads, and its
// fence no longer holds.
func TestLeadershipLostWhenLeaseDeleted(t *testing.T) {
	log := storagetest.Logger(t)
	s, ctx := newStore(t), testContext(t)
	a := campaign(t, ctx, s, electionConfig("a", 2*time.Second, log))
	if _, err := s.Delete(ctx, api.Leases.Storage, electionNS, electionName, nil); err != nil {
		t.Fatal(err)
	}
	expectLost(t, a, "a")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cm"}}
	if err := s.Create(ctx, api.ConfigMaps.Storage, cm, storage.WithFence(a.Fence())); !errors.Is(err, storage.ErrFenced) {
		t.Fatalf("create with a lost leadership's fence: %v, want ErrFenced", err)
	}
	// The election is open again.
	b := campaign(t, ctx, s, electionConfig("b", 2*time.Second, log))
	expectHolder(t, ctx, s, "b")
	expectNotLost(t, b, "b")
}

// TestStandbyNoticesResignDuringItsAttempt: a standby whose attempt to
// lead fails just before the leader resigns still takes over. (Campaign
// once read the revision to wait from after its failed create, and so
// missed a resignation landing in between, waiting for a deletion that
// never came; this caught it within a few rounds.)
func TestStandbyNoticesResignDuringItsAttempt(t *testing.T) {
	log := storagetest.Logger(t)
	s, ctx := newStore(t), testContext(t)
	for i := range 100 {
		a, err := s.Campaign(ctx, electionConfig("a", time.Minute, log))
		if err != nil {
			t.Fatal(err)
		}
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		done := make(chan error, 1)
		go func() {
			l, err := s.Campaign(bctx, electionConfig("b", time.Minute, log))
			if err == nil {
				err = l.Resign(ctx)
			}
			done <- err
		}()
		time.Sleep(time.Duration(i%30) * 100 * time.Microsecond)
		if err := a.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		err = <-done
		cancel()
		if err != nil {
			t.Fatalf("round %d: b did not take over after a resigned: %v", i, err)
		}
	}
}
