// Package api is Shepherd's resource registry: for every resource the
// apiserver serves, its group, version and kind, scope, names, how it is kept
// in etcd, and its strategy — defaulting, validation, which fields a write to
// the main resource or to its status may change, and its table columns.
//
// The types are k8s.io/api's; this package does not redefine them. Every
// component that writes objects (the apiserver, and controllers writing
// straight to etcd) applies the same strategy from here.
package api
