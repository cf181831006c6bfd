package garbagecollector

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-lab/shepherd/api"
)

// node is one object the collector knows from the informers.
type node struct {
	res             *api.Resource
	namespace, name string
	uid             types.UID
	owners          []metav1.OwnerReference
	// foreground: n is being deleted in the foreground, waiting for the
	// dependents that block it (it has a deletionTimestamp and the
	// foregroundDeletion finalizer).
	foreground bool
}

// graph links owners to their dependents by UID. An owner need not be
// known itself: a dependent may name a UID that never existed or is gone,
// which is what the collector looks for.
//
// Invariant: dependents[o] holds u exactly when nodes[u] names o among its
// owners.
type graph struct {
	mu         sync.Mutex
	nodes      map[types.UID]*node
	dependents map[types.UID]map[types.UID]bool
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]*node{}, dependents: map[types.UID]map[types.UID]bool{}}
}

// set records n, replacing what was known of its UID, and returns the
// owners it gained or lost.
func (g *graph) set(n *node) (changed []types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var before []metav1.OwnerReference
	if old := g.nodes[n.uid]; old != nil {
		before = old.owners
	}
	g.nodes[n.uid] = n
	was, is := uidSet(before), uidSet(n.owners)
	for o := range was {
		if !is[o] {
			g.unlink(o, n.uid)
			changed = append(changed, o)
		}
	}
	for o := range is {
		if !was[o] {
			if g.dependents[o] == nil {
				g.dependents[o] = map[types.UID]bool{}
			}
			g.dependents[o][n.uid] = true
			changed = append(changed, o)
		}
	}
	return changed
}

// remove forgets uid and returns its owners and its dependents.
func (g *graph) remove(uid types.UID) (owners, dependents []types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := g.nodes[uid]; n != nil {
		for o := range uidSet(n.owners) {
			g.unlink(o, uid)
			owners = append(owners, o)
		}
		delete(g.nodes, uid)
	}
	for d := range g.dependents[uid] {
		dependents = append(dependents, d)
	}
	return owners, dependents
}

func (g *graph) unlink(owner, dependent types.UID) {
	delete(g.dependents[owner], dependent)
	if len(g.dependents[owner]) == 0 {
		delete(g.dependents, owner)
	}
}

// get returns the node of uid.
func (g *graph) get(uid types.UID) *node {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[uid]
}

// dependentsOf returns the nodes naming owner among their owners.
func (g *graph) dependentsOf(owner types.UID) []*node {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*node, 0, len(g.dependents[owner]))
	for d := range g.dependents[owner] {
		out = append(out, g.nodes[d])
	}
	return out
}

// waitsOn returns the dependents that keep owner waiting and are
// themselves waiting for theirs: those blocking owner's deletion that
// are being deleted in the foreground.
func (g *graph) waitsOn(owner types.UID) []types.UID {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []types.UID
	for d := range g.dependents[owner] {
		if n := g.nodes[d]; n != nil && n.foreground && blocks(n, owner) {
			out = append(out, d)
		}
	}
	return out
}

// waitCycle returns the dependents of owner through which owner, being
// deleted in the foreground, waits on itself: each is one waitsOn gives
// for owner, and following waitsOn from it leads back to owner. Such a
// cycle of foreground deletions never ends by itself, as each waits for
// the next to go. It returns nil when there is none: a chain that ends
// ends with an object that goes, and a cycle further down that does not
// pass through owner is broken by the syncs of its own members.
func waitCycle(owner types.UID, waitsOn func(types.UID) []types.UID) []types.UID {
	var out []types.UID
	for _, d := range waitsOn(owner) {
		seen := map[types.UID]bool{}
		next := []types.UID{d}
		for len(next) > 0 {
			u := next[len(next)-1]
			next = next[:len(next)-1]
			if u == owner {
				out = append(out, d)
				break
			}
			if seen[u] {
				continue
			}
			seen[u] = true
			next = append(next, waitsOn(u)...)
		}
	}
	return out
}

func uidSet(refs []metav1.OwnerReference) map[types.UID]bool {
	s := make(map[types.UID]bool, len(refs))
	for _, r := range refs {
		s[r.UID] = true
	}
	return s
}
