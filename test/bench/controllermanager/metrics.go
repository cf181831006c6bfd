package main

import (
	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"

	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// scrape is a /metrics page, parsed (benchutil.Scrape), with this
// benchmark's own ways of reading it.
type scrape benchutil.Scrape

func parseScrape(text string) scrape { return scrape(benchutil.ParseScrape(text)) }

// value returns the first sample of name whose labels include want.
func (sc scrape) value(name string, want ...string) (float64, bool) {
	return benchutil.Scrape(sc).Value(name, want...)
}

// byLabel returns the samples of name by the value of label: the
// workqueue metrics by queue name.
func (sc scrape) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range sc {
		if s.Name == name {
			out[s.Labels[label]] += s.Value
		}
	}
	return out
}

// leaderMetric is the sample the controller-manager's /metrics shows once
// it leads.
const leaderMetric = "leader_election_master_status"

// leads says whether a scrape shows the named component leading.
func (sc scrape) leads(name string) bool {
	v, ok := sc.value(leaderMetric, "name", name)
	return ok && v == 1
}

// getMetrics fetches and parses url (a /metrics page).
func getMetrics(ctx context.Context, client *http.Client, url string) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseScrape(string(body)), nil
}

// queueFigures are one workqueue's figures over a run's phases.
type queueFigures struct {
	Name string
	// Adds and Retries are the increase of workqueue_adds_total and
	// workqueue_retries_total in each phase.
	Adds, Retries []float64
	// MaxDepth is the highest workqueue_depth the sampler saw, over
	// every phase.
	MaxDepth float64
	// QueueMean and WorkMean are the mean time in the queue and the mean
	// processing time of an item, over the whole run (from the
	// histograms' _sum and _count at the end).
	QueueMean, WorkMean time.Duration
}

// queueTable turns the scrapes taken at the phase boundaries (len(phases)
// + 1 of them) and the sampled depths into one row per queue, by name.
func queueTable(bounds []scrape, maxDepth map[string]float64) []queueFigures {
	names := map[string]bool{}
	for _, sc := range bounds {
		for n := range sc.byLabel("workqueue_adds_total", "name") {
			names[n] = true
		}
	}
	for n := range maxDepth {
		names[n] = true
	}
	var out []queueFigures
	for n := range names {
		q := queueFigures{Name: n, MaxDepth: maxDepth[n]}
		for i := 1; i < len(bounds); i++ {
			a0, _ := bounds[i-1].value("workqueue_adds_total", "name", n)
			a1, _ := bounds[i].value("workqueue_adds_total", "name", n)
			r0, _ := bounds[i-1].value("workqueue_retries_total", "name", n)
			r1, _ := bounds[i].value("workqueue_retries_total", "name", n)
			q.Adds, q.Retries = append(q.Adds, a1-a0), append(q.Retries, r1-r0)
		}
		if len(bounds) > 0 {
			last := bounds[len(bounds)-1]
			q.QueueMean = histMean(last, "workqueue_queue_duration_seconds", n)
			q.WorkMean = histMean(last, "workqueue_work_duration_seconds", n)
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// histMean is a histogram's _sum over its _count for the named queue.
func histMean(sc scrape, name, queue string) time.Duration {
	sum, ok1 := sc.value(name+"_sum", "name", queue)
	count, ok2 := sc.value(name+"_count", "name", queue)
	if !ok1 || !ok2 || count == 0 {
		return 0
	}
	return time.Duration(sum / count * float64(time.Second))
}

// depthSampler scrapes the controller-manager's /metrics every interval
// and keeps the highest workqueue_depth of each queue. Each scrape costs
// the controller-manager a little CPU, which its figures include.
type depthSampler struct {
	mu      sync.Mutex
	max     map[string]float64
	scrapes int
	errors  int
	lastErr string

	cancel context.CancelFunc
	done   chan struct{}
}

func startDepthSampler(ctx context.Context, client *http.Client, url string, interval time.Duration) *depthSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &depthSampler{max: map[string]float64{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			sc, err := getMetrics(ctx, client, url)
			s.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					s.errors++
					s.lastErr = err.Error()
				}
			} else {
				s.scrapes++
				for n, v := range sc.byLabel("workqueue_depth", "name") {
					s.max[n] = max(s.max[n], v)
				}
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns what it found. It may be called more
// than once.
func (s *depthSampler) stop() (maxDepth map[string]float64, scrapes, errors int, lastErr string) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, s.scrapes, s.errors, s.lastErr
}
