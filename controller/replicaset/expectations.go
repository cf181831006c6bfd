package replicaset

import (
	"sync"
	"time"
)

// ExpectationsTimeout is how long a controller waits to see the creates and
// deletes it issued before it acts again regardless (as Kubernetes: a watch
// event lost for good must not stall a ReplicaSet forever).
const ExpectationsTimeout = 5 * time.Minute

// Expectations records, per ReplicaSet key, the pods a controller has asked
// to create or delete and has not yet seen do so through its pod informer.
// While any are pending the ReplicaSet is not scaled again: the informer's
// view would miss them and the controller would create or delete twice.
//
// Pods are tracked by name (the controller chooses the names of the pods it
// creates), so an event seen twice, or for a pod nobody waits for, changes
// nothing.
type Expectations struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*pending
}

type pending struct {
	creates, deletes map[string]bool
	since            time.Time
}

// NewExpectations returns empty expectations.
func NewExpectations() *Expectations {
	return &Expectations{now: time.Now, m: map[string]*pending{}}
}

// Satisfied reports whether key has nothing pending, or has waited longer
// than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.m[key]
	if p == nil || len(p.creates)+len(p.deletes) == 0 {
		return true
	}
	return e.now().Sub(p.since) > ExpectationsTimeout
}

// Expect replaces key's expectations with the named creates and deletes.
func (e *Expectations) Expect(key string, creates, deletes []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := &pending{creates: map[string]bool{}, deletes: map[string]bool{}, since: e.now()}
	for _, n := range creates {
		p.creates[n] = true
	}
	for _, n := range deletes {
		p.deletes[n] = true
	}
	e.m[key] = p
}

// Created records that pod name of key was seen, or will never be (its
// create failed).
func (e *Expectations) Created(key, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.m[key]; p != nil {
		delete(p.creates, name)
	}
}

// Deleted records that pod name of key was seen deleted or terminating, or
// will never be (its delete failed).
func (e *Expectations) Deleted(key, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.m[key]; p != nil {
		delete(p.deletes, name)
	}
}

// Forget drops key's expectations (its ReplicaSet is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// addCreate adds one more expected create to key's pending ones.
func (e *Expectations) addCreate(key, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.m[key]; p != nil {
		p.creates[name] = true
	}
}
