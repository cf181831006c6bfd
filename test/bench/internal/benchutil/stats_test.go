package benchutil

import (
	"testing"
	"time"
)

func TestLatencies(t *testing.T) {
	l := Latencies{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.1, 1}, {0.11, 2}, {0.5, 5}, {0.99, 10}, {1, 10}} {
		if got := l.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if l[0] != 5 {
		t.Errorf("Quantile reordered its receiver: %v", l)
	}
	if got := l.Mean(); got != 5 {
		t.Errorf("Mean() = %v, want 5 (55/10, truncated)", got)
	}
	var empty Latencies
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Errorf("empty: Quantile %v, Mean %v; want 0, 0", empty.Quantile(0.5), empty.Mean())
	}
}
