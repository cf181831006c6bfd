//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// procCPU reads /proc, which only Linux has.
func procCPU(int) (time.Duration, error) {
	return 0, errors.New("process CPU time is only known on Linux")
}

// procMemory reads /proc, which only Linux has; 0 elsewhere.
func procMemory(int) (peak, rss int64) { return 0, 0 }

func childAttr() *syscall.SysProcAttr { return nil }
