package api

import (
	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/shepherd-lab/shepherd/api/validation"
)

// Leases are coordination.k8s.io/v1 leases: node heartbeats and leader
// election records.
var Leases = define(Resource{
	GroupVersion: coordinationv1.SchemeGroupVersion, Kind: "Lease", ListKind: "LeaseList",
	Plural: "leases", Singular: "lease", Namespaced: true, AllowCreateOnUpdate: true,
}, Strategy[*coordinationv1.Lease]{
	Validate:       validation.ValidateLease,
	ValidateUpdate: validation.ValidateLeaseUpdate,
})
