package cgroups

import "math"

// Kubernetes' and runc's conversions from a CPU request or limit to the
// cgroup files. They are pure so that the kubelet's numbers can be checked
// against Kubernetes' without a kernel.

const (
	minShares = 2      // the kernel's minimum cpu.shares (cgroup v1)
	maxShares = 262144 // the kernel's maximum cpu.shares, 1<<18
	minQuota  = 1000   // the kernel's minimum cpu.max quota, 1 ms in µs
	maxWeight = 10000  // the maximum cpu.weight
)

// MilliCPUToShares converts a CPU request in millicores to cgroup v1
// cpu.shares as the kubelet does: milli*1024/1000, at least 2 (so 0, no
// request, is 2) and at most the kernel's 262144.
func MilliCPUToShares(milli int64) uint64 {
	if milli <= 0 {
		return minShares
	}
	shares := uint64(milli) * 1024 / 1000
	return min(max(shares, minShares), maxShares)
}

// SharesToWeight converts cgroup v1 cpu.shares to cgroup v2 cpu.weight with
// runc's conversion since 1.3.2 / 1.4 (opencontainers/cgroups
// ConvertCPUSharesToCgroupV2Value): a quadratic in log2(shares) through the
// minima (2 -> 1), the defaults (1024 -> 100) and the maxima
// (262144 -> 10000),
//
//	weight = ceil(10^((l*l + 125*l)/612 - 7/34)),  l = log2(shares)
//
// clamped to 1..10000. The older linear conversion mapped the default 1024
// shares to weight 39, well below a cgroup v2 default of 100. 0 stays 0,
// "unset".
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= minShares:
		return 1
	case shares >= maxShares:
		return maxWeight
	}
	l := math.Log2(float64(shares))
	w := uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
	return min(max(w, 1), maxWeight)
}

// MilliCPUToQuota converts a CPU limit in millicores to a cpu.max quota in
// microseconds for period as the kubelet does: milli*period/1000, at least
// the kernel's 1000 µs. 0 (no limit) is 0, which Create writes as "max".
func MilliCPUToQuota(milli int64, period uint64) int64 {
	if milli <= 0 {
		return 0
	}
	if period == 0 {
		period = defaultCPUPeriod
	}
	quota := milli * int64(period) / 1000
	if quota < minQuota {
		return minQuota
	}
	return quota
}
