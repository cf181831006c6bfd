// Package storage keeps Kubernetes objects in etcd. It is the only package in
// Shepherd that talks to etcd: every component reads, writes and watches
// cluster state through it.
//
// # Keys
//
// An object of resource R lives at /registry/R/<namespace>/<name>, or at
// /registry/R/<name> when R is cluster-scoped. Two kinds of extra keys are
// written in the same transaction as the object itself:
//
//   - index keys, /registry/R-by-<index>/<value>/<namespace>/<name>, hold a
//     copy of the object so that one etcd watch on an index prefix delivers
//     exactly the objects with that value (a kubelet watches the pods of its
//     own node this way);
//   - claim keys, /registry/claims/<claim>, reserve a unique value (a service
//     cluster IP, a node port) for as long as the object exists. A write whose
//     object claims a key held by another object fails with ErrClaimed.
//
// # Revisions
//
// An object's resourceVersion is the etcd ModRevision of its key. The stored
// bytes never carry it; it is set on every object read back. Every write is a
// single transaction guarded by a revision compare, in one of three shapes:
//
//	create: If(ModRevision(key) == 0, ModRevision(claim) == 0 ...)
//	        Then(Put(key), Put(index...), Put(claim...)) Else(Get(key), Get(claim...))
//	update: If(ModRevision(key) == rev, ModRevision(newClaim) == 0 ...)
//	        Then(Put(key), Put/Delete(index...), Put/Delete(claim...)) Else(Get(key), Get(newClaim...))
//	delete: If(ModRevision(key) == rev)
//	        Then(Delete(key), Delete(index...), Delete(claim...)) Else(Get(key))
//
// A stale write fails with ErrConflict; GuaranteedUpdate re-reads (from the
// failed transaction's Else branch, without a second round trip) and
// re-applies its mutation until the write lands.
//
// # Encoding
//
// Objects are stored as Kubernetes' protobuf envelope ("k8s\x00" followed by
// a runtime.Unknown), the encoding kube-apiserver uses, because every
// component decodes every object it watches and protobuf decodes about six
// times faster than JSON.
package storage
