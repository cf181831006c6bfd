package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// memory is one process's memory, in bytes.
type memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the most it was ever resident
	// Anon and File split RSS (RssAnon, and RssFile with RssShmem): the
	// process's own data, and the pages of files it maps, chiefly its
	// executable's.
	Anon, File int64
	Threads    int // OS threads (a goroutine blocked in a system call holds one)
	// Exe is the resident part of the mappings of the process's own
	// executable (from smaps); HasExe says it was read.
	Exe    int64
	HasExe bool
	// PSS is the proportional set size (smaps_rollup): its own pages plus
	// its share of those it shares, so PSS adds up across processes where
	// RSS counts shared pages (the shim's text) once per process.
	PSS    int64
	HasPSS bool
}

// readMemory reads process pid's memory from /proc/<pid>/status and, where
// the kernel has it, /proc/<pid>/smaps_rollup.
func readMemory(pid int) (memory, error) {
	var m memory
	kb, err := kbFields(fmt.Sprintf("/proc/%d/status", pid), "VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads")
	if err != nil {
		return m, err
	}
	m.RSS, m.Peak, m.Anon, m.File = kb["VmRSS"], kb["VmHWM"], kb["RssAnon"], kb["RssFile"]+kb["RssShmem"]
	m.Threads = int(kb["Threads"])
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
			m.Exe, m.HasExe = mappedRSS(string(data), exe), true
		}
	}
	if kb, err := kbFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss"); err == nil {
		if v, ok := kb["Pss"]; ok {
			m.PSS, m.HasPSS = v, true
		}
	}
	return m, nil
}

// kbFields reads "Key:   123 kB" lines of a /proc file, returning the wanted
// keys' values in bytes; a value without a unit ("Threads:  12") is
// returned as it is.
func kbFields(name string, keys ...string) (map[string]int64, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k != want {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "kB") {
				continue
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				continue
			}
			if len(f) == 2 {
				n <<= 10
			}
			out[k] = n
		}
	}
	return out, nil
}

// mappedRSS sums, over the mappings in smaps text whose path is file,
// their Rss, in bytes.
func mappedRSS(smaps, file string) int64 {
	var total int64
	in := false
	for _, line := range strings.Split(smaps, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// A mapping's header starts with its address range; its fields
		// ("Rss:   12 kB") with a key.
		if !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && strings.Join(f[5:], " ") == file
			continue
		}
		if in && f[0] == "Rss:" && len(f) == 3 && f[2] == "kB" {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				total += n << 10
			}
		}
	}
	return total
}

// procStat is what a process's /proc/<pid>/stat says that a run needs.
type procStat struct {
	PPID int
	CPU  time.Duration // user and system time so far
}

// readStat reads /proc/<pid>/stat: the parent (field 4) and the CPU time,
// user and system (fields 14 and 15).
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(data))
}

func parseStat(s string) (procStat, error) {
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat %q: no command name", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat: cpu time: %w", err)
		}
		ticks += n
	}
	return procStat{PPID: ppid, CPU: time.Duration(ticks) * time.Second / clockTick}, nil
}

// process is one entry of /proc.
type process struct {
	PID, PPID int
	Exe       string // the executable's path; "" when unreadable (kernel threads)
	Argv0     string
	CPU       time.Duration
}

// listProcesses reads every process in /proc. A process that exits while
// it is read is left out.
func listProcesses() ([]process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		p := process{PID: pid, PPID: st.PPID, CPU: st.CPU}
		p.Exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			p.Argv0, _, _ = strings.Cut(string(cmdline), "\x00")
		}
		out = append(out, p)
	}
	return out, nil
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
