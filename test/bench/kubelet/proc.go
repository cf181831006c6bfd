package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a component under test, a separate process so that its memory
// and CPU are its own, with its output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	exited  chan struct{} // closed when the process has exited
	waitErr error         // its exit status, once exited is closed
}

// startProc starts bin with args, output appended to logPath. The process gets a
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

// stop ends the process: SIGTERM, then SIGKILL if it has not exited
// within grace. It says how it ended; "" when it had already exited.
func (p *proc) stop(grace time.Duration) string {
	select {
	case <-p.exited:
		return ""
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

// logSummary is what the log says, in brief: how many lines, and the
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
