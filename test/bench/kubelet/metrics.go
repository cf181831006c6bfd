package main

import (
	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"

	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
)

// scrape is a /metrics page, parsed (benchutil.Scrape), with this
// benchmark's own ways of reading it.
type scrape benchutil.Scrape

func parseScrape(text string) scrape { return scrape(benchutil.ParseScrape(text)) }

// value returns the first sample of name whose labels include want.
func (sc scrape) value(name string, want ...string) (float64, bool) {
	return benchutil.Scrape(sc).Value(name, want...)
}

// histogram is one Prometheus histogram from a scrape.
type histogram struct {
	Buckets []bucket // by upper bound, cumulative, +Inf last
	Sum     float64
	Count   float64
	Found   bool
}

type bucket struct {
	Le    float64 // upper bound, seconds
	Count float64 // observations at or below Le
}

// histogram collects the named histogram's _bucket, _sum and _count
// samples whose labels include want.
func (sc scrape) histogram(name string, want ...string) histogram {
	var h histogram
	for _, s := range sc {
		if !s.Has(want...) {
			continue
		}
		switch s.Name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.Labels["le"], 64)
			if err != nil {
				continue
			}
			h.Buckets = append(h.Buckets, bucket{Le: le, Count: s.Value})
		case name + "_sum":
			h.Sum, h.Found = s.Value, true
		case name + "_count":
			h.Count, h.Found = s.Value, true
		}
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].Le < h.Buckets[j].Le })
	return h
}

// Mean is Sum/Count; 0 when empty.
func (h histogram) Mean() float64 {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / h.Count
}

// AtMost is how many observations were at most le, when le is a bucket
// bound; ok is false when it is not.
func (h histogram) AtMost(le float64) (float64, bool) {
	for _, b := range h.Buckets {
		if b.Le == le {
			return b.Count, true
		}
	}
	return 0, false
}

// Quantile estimates the q-quantile as Prometheus' histogram_quantile
// does: linearly within the bucket that holds it, the first bucket
// starting at 0. A quantile in the +Inf bucket is the highest finite
// bound. NaN when empty.
func (h histogram) Quantile(q float64) float64 {
	if len(h.Buckets) == 0 || h.Buckets[len(h.Buckets)-1].Count == 0 {
		return math.NaN()
	}
	total := h.Buckets[len(h.Buckets)-1].Count
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range h.Buckets {
		if b.Count >= rank {
			if math.IsInf(b.Le, 1) {
				if i == 0 {
					return math.NaN()
				}
				return h.Buckets[i-1].Le
			}
			in := b.Count - below
			if in == 0 {
				return b.Le
			}
			return lower + (b.Le-lower)*(rank-below)/in
		}
		lower, below = b.Le, b.Count
	}
	return lower
}

// opMeans are the mean durations by label value of a histogram vector:
// the kubelet's runtime operations by operation_type.
type opMean struct {
	Op    string
	Count float64
	Mean  float64 // seconds
}

func (sc scrape) means(name, label string) []opMean {
	idx := map[string]int{}
	var out []opMean
	for _, s := range sc {
		if s.Name != name+"_sum" && s.Name != name+"_count" {
			continue
		}
		op := s.Labels[label]
		i, ok := idx[op]
		if !ok {
			i = len(out)
			idx[op] = i
			out = append(out, opMean{Op: op})
		}
		if s.Name == name+"_sum" {
			out[i].Mean = s.Value // the sum, until divided below
		} else {
			out[i].Count = s.Value
		}
	}
	for i := range out {
		if out[i].Count > 0 {
			out[i].Mean /= out[i].Count
		} else {
			out[i].Mean = 0
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

// scrapeKubelet fetches the kubelet's /metrics.
func (c *cluster) scrapeKubelet(ctx context.Context) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.kubeletURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", c.kubeletURL, resp.Status)
	}
	return parseScrape(string(body)), nil
}
