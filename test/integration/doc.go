// Package integration tests the apiserver through client-go, against a
// real apiserver and embedded etcd in the test process.
package integration
