//go:build !linux

package benchutil

import "time"

// FSType is only known on Linux.
func FSType(string) string { return "unknown" }

// SelfCPU is only known on Linux; 0 elsewhere.
func SelfCPU() time.Duration { return 0 }
