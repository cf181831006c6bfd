// Package scheduler binds pending pods to nodes.
//
// The decision (filters, scores, choosing a node) is pure code over a
// snapshot of node usage: nodeinfo.go, filters.go, scores.go and
// algorithm.go do no I/O and are tested without etcd. Around it:
//
//   - cache.go keeps node usage current from informers over nodes, pods and
//     node leases, and counts the pods this scheduler has decided on but not
//     yet seen bound ("assumed" pods), so a burst spreads instead of piling
//     onto the node that looked emptiest;
//   - queue.go orders pending pods by priority, backs off failed ones, and
//     parks unschedulable ones until a change in the cluster could make them
//     fit;
//   - scheduler.go runs one decision at a time and binds asynchronously: a
//     binding is one etcd transaction (storage.Update) that succeeds only if
//     the pod is unchanged since the revision the decision was based on and
//     this scheduler still leads (a fence on its election key).
package scheduler
