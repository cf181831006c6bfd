package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestValidatePodVolumes(t *testing.T) {
	v0 := "spec.volumes[0]"
	withVolumes := func(vols ...corev1.Volume) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Volumes = vols }
	}
	emptyDir := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	}
	configMap := func(cm corev1.ConfigMapVolumeSource) corev1.Volume {
		return corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &cm}}
	}
	cmRef := corev1.LocalObjectReference{Name: "app-config"}
	runPodCases(t, []podCase{
		{"emptyDir", withVolumes(emptyDir("scratch")), nil},
		{"configMap with items", withVolumes(configMap(corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef,
			Items: []corev1.KeyToPath{{Key: "app.properties", Path: "conf/app.properties"}}, DefaultMode: ptr.To[int32](0644)})), nil},
		{"volume name missing", withVolumes(emptyDir("")), errs(required(v0 + ".name"))},
		{"volume name not a DNS label", withVolumes(emptyDir("Data")), errs(invalid(v0 + ".name"))},
		{"duplicate volume names", withVolumes(emptyDir("data"), emptyDir("data")), errs(duplicate("spec.volumes[1].name"))},
		{"no source", withVolumes(corev1.Volume{Name: "data"}), errs(required(v0))},
		{"two sources", withVolumes(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}}),
			errs(forbidden(v0 + ".hostPath"))},
		{"hostPath without path", withVolumes(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{}}}), errs(required(v0 + ".hostPath.path"))},
		{"hostPath with backsteps", withVolumes(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: "/var/../etc"}}}), errs(invalid(v0 + ".hostPath.path"))},
		{"configMap without name", withVolumes(configMap(corev1.ConfigMapVolumeSource{})), errs(required(v0 + ".configMap.name"))},
		{"configMap with a bad mode", withVolumes(configMap(corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef,
			DefaultMode: ptr.To[int32](01000)})), errs(invalid(v0 + ".configMap.defaultMode"))},
		{"configMap item escaping the volume", withVolumes(configMap(corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef,
			Items: []corev1.KeyToPath{{Key: "k", Path: "../k"}}})), errs(invalid(v0 + ".configMap.items[0].path"))},
		{"configMap item with absolute path and no key", withVolumes(configMap(corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef,
			Items: []corev1.KeyToPath{{Path: "/k"}}})),
			errs(required(v0+".configMap.items[0].key"), invalid(v0+".configMap.items[0].path"))},
		{"secret without name", withVolumes(corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{}}}), errs(required(v0 + ".secret.secretName"))},
		{"claim without name", withVolumes(corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}}), errs(required(v0 + ".persistentVolumeClaim.claimName"))},
		{"downwardAPI item without a source", withVolumes(corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{
			DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels"}}}}}),
			errs(required(v0 + ".downwardAPI.items[0]"))},
		{"downwardAPI labels", withVolumes(corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{
			DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}}}}}}), nil},
		{"projected token without a service account", withVolumes(corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
				ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}}}}}}),
			errs(forbidden(v0 + ".projected.sources[0].serviceAccountToken"))},
		{"projected source with two kinds", withVolumes(corev1.Volume{Name: "mix", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
				ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cmRef},
				Secret:    &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}}}}),
			errs(forbidden(v0 + ".projected.sources[0]"))},
		{"projected secret without a name, and a path used twice", withVolumes(corev1.Volume{Name: "mix", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{{Key: "a", Path: "conf"}}}},
				{Secret: &corev1.SecretProjection{Items: []corev1.KeyToPath{{Key: "b", Path: "conf"}}}},
			}}}}),
			errs(required(v0+".projected.sources[1].secret.name"), invalid(v0+".projected.sources[1].secret.items[0].path"))},
	})
}

func TestValidatePodVolumeMounts(t *testing.T) {
	m := "spec.containers[0].volumeMounts"
	withMounts := func(mounts ...corev1.VolumeMount) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = mounts
		}
	}
	runPodCases(t, []podCase{
		{"mount", withMounts(corev1.VolumeMount{Name: "data", MountPath: "/data"}), nil},
		{"same volume twice", withMounts(corev1.VolumeMount{Name: "data", MountPath: "/a"}, corev1.VolumeMount{Name: "data", MountPath: "/b", SubPath: "b"}), nil},
		{"unknown volume", withMounts(corev1.VolumeMount{Name: "cache", MountPath: "/cache"}), errs(notFound(m + "[0].name"))},
		{"mountPath missing", withMounts(corev1.VolumeMount{Name: "data"}), errs(required(m + "[0].mountPath"))},
		{"relative mountPath", withMounts(corev1.VolumeMount{Name: "data", MountPath: "data"}), errs(invalid(m + "[0].mountPath"))},
		{"mountPath used twice", withMounts(corev1.VolumeMount{Name: "data", MountPath: "/data"}, corev1.VolumeMount{Name: "data", MountPath: "/data"}),
			errs(invalid(m + "[1].mountPath"))},
		{"subPath escaping the volume", withMounts(corev1.VolumeMount{Name: "data", MountPath: "/data", SubPath: "../etc"}),
			errs(invalid(m + "[0].subPath"))},
		{"bidirectional propagation unprivileged", withMounts(corev1.VolumeMount{Name: "data", MountPath: "/data",
			MountPropagation: ptr.To(corev1.MountPropagationBidirectional)}), errs(forbidden(m + "[0].mountPropagation"))},
	})
}
