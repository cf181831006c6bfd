package cgroups

import "testing"

func TestSharesToWeight(t *testing.T) {
	// 2, 1024 and 262144 are the points runc's quadratic passes through
	// (minimum, default, maximum); 2000 -> 170 is what runc 1.4 writes for
	// --cpu-shares 2000 (opencontainers/runc#4896); the others were worked
	// out from the formula, and are far from the old linear conversion's
	// (1024 -> 39, 2048 -> 79, 102 -> 4).
	tests := []struct{ shares, weight uint64 }{
		{0, 0},
		{1, 1},
		{2, 1},
		{3, 2},
		{102, 17}, // 100m
		{256, 35}, // 250m
		{512, 59},
		{1024, 100}, // 1 CPU
		{2000, 170},
		{2048, 174},
		{4096, 303},
		{262143, 10000},
		{262144, 10000},
		{1 << 20, 10000},
	}
	for _, tt := range tests {
		if got := SharesToWeight(tt.shares); got != tt.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", tt.shares, got, tt.weight)
		}
	}
	// Monotonic and in range all the way.
	prev := uint64(1)
	for s := uint64(2); s <= 262144; s++ {
		w := SharesToWeight(s)
		if w < prev || w > 10000 {
			t.Fatalf("SharesToWeight(%d) = %d after %d", s, w, prev)
		}
		prev = w
	}
}

func TestMilliCPUToShares(t *testing.T) {
	tests := []struct {
		milli  int64
		shares uint64
	}{
		{0, 2}, {1, 2}, {2, 2}, {3, 3}, {100, 102}, {250, 256}, {1000, 1024}, {1500, 1536},
		{-5, 2}, {256000, 262144}, {1000000, 262144},
	}
	for _, tt := range tests {
		if got := MilliCPUToShares(tt.milli); got != tt.shares {
			t.Errorf("MilliCPUToShares(%d) = %d, want %d", tt.milli, got, tt.shares)
		}
	}
	// The usual pipeline: 1 CPU requested is the default weight.
	if got := SharesToWeight(MilliCPUToShares(1000)); got != 100 {
		t.Errorf("weight for 1000m = %d, want 100", got)
	}
}

func TestMilliCPUToQuota(t *testing.T) {
	tests := []struct {
		milli  int64
		period uint64
		quota  int64
	}{
		{0, 100000, 0},
		{500, 100000, 50000},
		{1000, 100000, 100000},
		{2500, 100000, 250000},
		{1, 100000, 1000}, // at least 1 ms
		{9, 100000, 1000},
		{10, 100000, 1000},
		{11, 100000, 1100},
		{500, 50000, 25000},
		{500, 0, 50000}, // 0 is the default period
	}
	for _, tt := range tests {
		if got := MilliCPUToQuota(tt.milli, tt.period); got != tt.quota {
			t.Errorf("MilliCPUToQuota(%d, %d) = %d, want %d", tt.milli, tt.period, got, tt.quota)
		}
	}
}
