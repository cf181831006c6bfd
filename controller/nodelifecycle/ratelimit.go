package nodelifecycle

import (
	"sync"
	"time"
)

// tokenBucket allows rate events a second with a burst of one, as the
// limiter Kubernetes gives each zone (--node-eviction-rate). Time is
// passed in, so tests need no clock.
type tokenBucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) allow(now time.Time) bool {
	const burst = 1
	if b.last.IsZero() {
		b.tokens = burst
	} else if now.After(b.last) {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if now.After(b.last) || b.last.IsZero() {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// zoneQueues holds, per zone, the nodes waiting for their NoExecute taint,
// in arrival order, and lets them through at the zone's rate.
type zoneQueues struct {
	rate float64

	mu    sync.Mutex
	zones map[string]*zoneQueue
	zone  map[string]string // node → the zone it is queued in
}

type zoneQueue struct {
	bucket tokenBucket
	nodes  []string
}

func newZoneQueues(rate float64) *zoneQueues {
	return &zoneQueues{rate: rate, zones: map[string]*zoneQueue{}, zone: map[string]string{}}
}

// add queues node in zone unless it is queued already.
func (z *zoneQueues) add(zone, node string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if _, ok := z.zone[node]; ok {
		return
	}
	q := z.zones[zone]
	if q == nil {
		q = &zoneQueue{bucket: tokenBucket{rate: z.rate}}
		z.zones[zone] = q
	}
	q.nodes = append(q.nodes, node)
	z.zone[node] = zone
}

// remove drops node from its queue (it recovered, or is gone).
func (z *zoneQueues) remove(node string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	zone, ok := z.zone[node]
	if !ok {
		return
	}
	delete(z.zone, node)
	q := z.zones[zone]
	for i, n := range q.nodes {
		if n == node {
			q.nodes = append(q.nodes[:i:i], q.nodes[i+1:]...)
			break
		}
	}
}

// take returns the nodes whose turn has come at now, removing them, each
// with its zone.
func (z *zoneQueues) take(now time.Time) [][2]string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out [][2]string
	for zone, q := range z.zones {
		for len(q.nodes) > 0 && q.bucket.allow(now) {
			node := q.nodes[0]
			q.nodes = q.nodes[1:]
			delete(z.zone, node)
			out = append(out, [2]string{zone, node})
		}
	}
	return out
}
