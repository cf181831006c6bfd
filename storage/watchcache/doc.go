// Package watchcache keeps an in-memory replica of one resource, fed by a
// single etcd watch, and serves lists and watches from it. Many watchers of
// a resource share that one etcd watch: an event is decoded once, encoded
// once, and fanned out to every watcher whose selector it matches.
//
// The cache follows etcd's revision: it knows every change up to
// Revision(), and learns that etcd has moved on without changes to its
// resource from progress notifications. A consistent read asks etcd for its
// current revision and waits until the cache has caught up with it, so a
// list from the cache is as fresh as a quorum read of etcd.
//
// Objects handed out by the cache are shared and must not be modified.
package watchcache
