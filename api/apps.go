package api

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/shepherd-lab/shepherd/api/defaults"
	"github.com/shepherd-lab/shepherd/api/validation"
)

var apps = appsv1.SchemeGroupVersion

// Deployments are apps/v1 deployments.
var Deployments = define(Resource{
	GroupVersion: apps, Kind: "Deployment", ListKind: "DeploymentList", Plural: "deployments", Singular: "deployment",
	ShortNames: []string{"deploy"}, Categories: []string{"all"}, Namespaced: true, HasStatus: true,
	Scale: &ScaleAccess{
		SpecReplicas:   func(o runtime.Object) int32 { return replicas(o.(*appsv1.Deployment).Spec.Replicas) },
		SetReplicas:    func(o runtime.Object, n int32) { o.(*appsv1.Deployment).Spec.Replicas = &n },
		StatusReplicas: func(o runtime.Object) int32 { return o.(*appsv1.Deployment).Status.Replicas },
		Selector:       func(o runtime.Object) string { return selectorString(o.(*appsv1.Deployment).Spec.Selector) },
	},
}, Strategy[*appsv1.Deployment]{
	Default:          defaults.Deployment,
	PrepareForCreate: func(d *appsv1.Deployment) { d.Status = appsv1.DeploymentStatus{} },
	Validate:         validation.ValidateDeployment,
	ValidateUpdate:   validation.ValidateDeploymentUpdate,
	ValidateStatusUpdate: func(d, old *appsv1.Deployment) field.ErrorList {
		return validation.ValidateDeploymentStatusUpdate(d, old)
	},
	Spec: func(d *appsv1.Deployment) any { return &d.Spec },
})

// ReplicaSets are apps/v1 replica sets.
var ReplicaSets = define(Resource{
	GroupVersion: apps, Kind: "ReplicaSet", ListKind: "ReplicaSetList", Plural: "replicasets", Singular: "replicaset",
	ShortNames: []string{"rs"}, Categories: []string{"all"}, Namespaced: true, HasStatus: true,
	Scale: &ScaleAccess{
		SpecReplicas:   func(o runtime.Object) int32 { return replicas(o.(*appsv1.ReplicaSet).Spec.Replicas) },
		SetReplicas:    func(o runtime.Object, n int32) { o.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		StatusReplicas: func(o runtime.Object) int32 { return o.(*appsv1.ReplicaSet).Status.Replicas },
		Selector:       func(o runtime.Object) string { return selectorString(o.(*appsv1.ReplicaSet).Spec.Selector) },
	},
}, Strategy[*appsv1.ReplicaSet]{
	Default:          defaults.ReplicaSet,
	PrepareForCreate: func(rs *appsv1.ReplicaSet) { rs.Status = appsv1.ReplicaSetStatus{} },
	Validate:         validation.ValidateReplicaSet,
	ValidateUpdate:   validation.ValidateReplicaSetUpdate,
	ValidateStatusUpdate: func(rs, old *appsv1.ReplicaSet) field.ErrorList {
		return validation.ValidateReplicaSetStatusUpdate(rs, old)
	},
	Spec: func(rs *appsv1.ReplicaSet) any { return &rs.Spec },
	Fields: func(rs *appsv1.ReplicaSet) fields.Set {
		return fields.Set{"status.replicas": strconv.Itoa(int(rs.Status.Replicas))}
	},
})

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}
