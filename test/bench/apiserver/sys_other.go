//go:build !linux

package main

import "time"

// fsType is only known on Linux.
func fsType(string) string { return "unknown" }

// processCPU is only known on Linux; 0 elsewhere.
func processCPU() time.Duration { return 0 }
