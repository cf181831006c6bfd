package admission_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-lab/shepherd/admission"
	"github.com/shepherd-lab/shepherd/admission/admissiontest"
	"github.com/shepherd-lab/shepherd/api"
	"github.com/shepherd-lab/shepherd/storage"
	"github.com/shepherd-lab/shepherd/storage/storagetest"
)

func TestSettingsFromConfigMap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    map[string]string
		want    admission.Settings
		wantErr string
	}{
		{"empty: Kubernetes' defaults", nil, admission.DefaultSettings(), ""},
		{"both", map[string]string{"default-not-ready-toleration-seconds": "5", "default-unreachable-toleration-seconds": "0"},
			admission.Settings{DefaultNotReadyTolerationSeconds: 5, DefaultUnreachableTolerationSeconds: 0}, ""},
		{"one: the other defaults", map[string]string{"default-unreachable-toleration-seconds": "60"},
			admission.Settings{DefaultNotReadyTolerationSeconds: 300, DefaultUnreachableTolerationSeconds: 60}, ""},
		{"not a number", map[string]string{"default-unreachable-toleration-seconds": "5m"}, admission.Settings{},
			`data[default-unreachable-toleration-seconds]: Invalid value: "5m": must be an integer number of seconds`},
		{"negative", map[string]string{"default-not-ready-toleration-seconds": "-1"}, admission.Settings{},
			`data[default-not-ready-toleration-seconds]: Invalid value: "-1": must not be negative`},
		{"a typo", map[string]string{"default-unreachable-toleration-second": "5"}, admission.Settings{},
			`data[default-unreachable-toleration-second]: Unsupported value: "default-unreachable-toleration-second"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := admission.SettingsFromConfigMap(&corev1.ConfigMap{Data: tc.data})
			if tc.wantErr != "" {
				if !strings.Contains(errs.ToAggregate().Error(), tc.wantErr) {
					t.Fatalf("errors %v, want %q", errs, tc.wantErr)
				}
				return
			}
			if len(errs) > 0 || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, errs, tc.want)
			}
		})
	}
	// The ConfigMap the apiserver writes reads back as what it was made of.
	s := admission.Settings{DefaultNotReadyTolerationSeconds: 11, DefaultUnreachableTolerationSeconds: 22}
	if got, errs := admission.SettingsFromConfigMap(s.ConfigMap()); got != s || len(errs) > 0 {
		t.Errorf("round trip: %+v %v", got, errs)
	}
}

// A component following the cluster sees the settings ConfigMap change,
// and falls back to the defaults when it is deleted or was written
// unparseable around the apiserver.
func TestFollowSeesSettingsChange(t *testing.T) {
	store := storagetest.NewStore(t, api.Scheme)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metav1.NamespaceSystem}}
	if err := api.Namespaces.BeforeCreate(ns); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, api.Namespaces.Storage, ns); err != nil {
		t.Fatal(err)
	}
	adm := admissiontest.Follow(t, store)
	if got := adm.Settings(); got != admission.DefaultSettings() {
		t.Fatalf("no ConfigMap: %+v, want the defaults", got)
	}
	waitFor := func(want admission.Settings) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for adm.Settings() != want {
			if time.Now().After(deadline) {
				t.Fatalf("settings %+v, want %+v", adm.Settings(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cms := storage.NewTyped[*corev1.ConfigMap](store, api.ConfigMaps.Storage)
	want := admission.Settings{DefaultNotReadyTolerationSeconds: 3, DefaultUnreachableTolerationSeconds: 4}
	cm := want.ConfigMap()
	if err := adm.Create(ctx, api.ConfigMaps, cm); err != nil {
		t.Fatal(err)
	}
	if err := cms.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitFor(want)

	// Admission refuses an unparseable edit...
	bad := cm.DeepCopy()
	bad.Data["default-not-ready-toleration-seconds"] = "soon"
	if err := adm.Update(ctx, api.ConfigMaps, bad, cm); err == nil || !strings.Contains(err.Error(), "must be an integer number of seconds") {
		t.Fatalf("bad edit admitted: %v", err)
	}
	// ...and one written around it is read as the defaults.
	if err := cms.Update(ctx, cm, bad); err != nil {
		t.Fatal(err)
	}
	waitFor(admission.DefaultSettings())

	cur, err := cms.Get(ctx, admission.SettingsNamespace, admission.SettingsName)
	if err != nil {
		t.Fatal(err)
	}
	again := admission.Settings{DefaultNotReadyTolerationSeconds: 5, DefaultUnreachableTolerationSeconds: 6}
	fixed := cur.DeepCopy()
	fixed.Data = again.ConfigMap().Data
	if err := cms.Update(ctx, cur, fixed); err != nil {
		t.Fatal(err)
	}
	waitFor(again)
	if _, err := cms.Delete(ctx, admission.SettingsNamespace, admission.SettingsName, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(admission.DefaultSettings())
}
