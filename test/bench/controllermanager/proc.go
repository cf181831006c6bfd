package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one component under test, a separate process so that its CPU
// and memory are its own, with its output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	exited  chan struct{} // closed when the process has exited
	waitErr error         // its exit status, once exited is closed
}

// startProc starts bin with args, output to logPath. The process gets a
// process group of its own, so that a Ctrl-C at the terminal reaches only
// this program, which then stops it in order; and it is killed should
// this program die first.
func startProc(name, bin, logPath string, args ...string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	p := &proc{name: name, logPath: logPath, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// aliveErr is nil while the process runs, else an error with its exit
// status and the end of its log.
func (p *proc) aliveErr() error {
	select {
	case <-p.exited:
		return fmt.Errorf("the %s exited (%v); its log ends:\n%s", p.name, p.waitErr, p.logTail(40))
	default:
		return nil
	}
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited within
// grace. It says how it ended.
func (p *proc) stop(grace time.Duration) string {
	select {
	case <-p.exited:
		return fmt.Sprintf("had exited (%s)", exitText(p.waitErr))
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return fmt.Sprintf("exited on SIGTERM (%s)", exitText(p.waitErr))
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Sprintf("did not exit within %v of SIGTERM: SIGKILLed", grace)
	}
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// logTail returns the last n lines of the process's log.
func (p *proc) logTail(n int) string {
	data, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logSummary is what a log says, in brief: how many lines, and the
// warnings and errors by message.
type logSummary struct {
	Lines    int
	Warnings []warningCount
}

type warningCount struct {
	Message string // "WARN msg"
	Count   int
	Example string // the first line with it
}

var (
	logLevel   = regexp.MustCompile(`\blevel=(WARN|ERROR)\b`)
	logMessage = regexp.MustCompile(`\bmsg=("(?:[^"\\]|\\.)*"|\S+)`)
)

func (p *proc) logSummary() logSummary {
	var s logSummary
	f, err := os.Open(p.logPath)
	if err != nil {
		return s
	}
	defer f.Close()
	idx := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.Lines++
		line := sc.Text()
		lv := logLevel.FindStringSubmatch(line)
		if lv == nil {
			continue
		}
		msg := line
		if m := logMessage.FindStringSubmatch(line); m != nil {
			msg = m[1]
			if u, err := strconv.Unquote(msg); err == nil {
				msg = u
			}
		}
		msg = lv[1] + " " + msg
		if i, ok := idx[msg]; ok {
			s.Warnings[i].Count++
			continue
		}
		idx[msg] = len(s.Warnings)
		s.Warnings = append(s.Warnings, warningCount{Message: msg, Count: 1, Example: line})
	}
	return s
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 100

// procCPU is the CPU time, user and system, process pid has used so far:
// fields 14 and 15 of /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(data))
}

func parseStatCPU(s string) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat %q: no command name", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: cpu time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// memory is a process's resident set: now (VmRSS) and at its peak (VmHWM).
type memory struct{ RSS, Peak int64 } // bytes

// procMemory reads VmRSS and VmHWM from /proc/<pid>/status.
func procMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	return parseStatusMemory(data), nil
}

func parseStatusMemory(data []byte) memory {
	var m memory
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		f := strings.Fields(v) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmHWM" {
			m.Peak = n << 10
		} else {
			m.RSS = n << 10
		}
	}
	return m
}

// leftoverPIDs lists processes still running an executable below dir:
// this run's binaries, should one have outlived its stop.
func leftoverPIDs(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasPrefix(exe, dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}
