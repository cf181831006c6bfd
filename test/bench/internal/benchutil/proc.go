package benchutil

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

// Proc is a component under test, a separate process so that its CPU and
// memory are its own, with its output in a log file.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	Started time.Time
	exited  chan struct{} // closed when the process has exited
	waitErr error         // its exit status, once exited is closed
}

// StartProc starts bin with args, output appended to logPath. The process
// gets a process group of its own, so that a Ctrl-C at the terminal
// reaches only the benchmark, which then stops it in order; and it is
// killed should the benchmark die first.
func StartProc(name, bin, logPath string, args ...string) (*Proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	p := &Proc{Name: name, LogPath: logPath, exited: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Stdout, p.Cmd.Stderr = logFile, logFile
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.Started = time.Now()
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.waitErr = p.Cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Pid is the process's pid.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// AliveErr is nil while the process runs, else an error with its exit
// status and the end of its log.
func (p *Proc) AliveErr() error {
	select {
	case <-p.exited:
		return fmt.Errorf("the %s exited (%v); its log ends:\n%s", p.Name, p.waitErr, p.LogTail(40))
	default:
		return nil
	}
}

// Stop ends the process: SIGTERM, then SIGKILL if it has not exited
// within grace. It says how it ended.
func (p *Proc) Stop(grace time.Duration) string {
	select {
	case <-p.exited:
		return fmt.Sprintf("had exited (%s)", exitText(p.waitErr))
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return fmt.Sprintf("exited on SIGTERM (%s)", exitText(p.waitErr))
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
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

// LogTail returns the last n lines of the process's log.
func (p *Proc) LogTail(n int) string {
	data, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogSummary is what a log says, in brief: how many lines, and the
// warnings and errors by message.
type LogSummary struct {
	Lines    int
	Warnings []WarningCount
}

// WarningCount is one warning or error message and how often it came.
type WarningCount struct {
	Message string // "WARN msg"
	Count   int
	Example string // the first line with it
}

var (
	logLevel   = regexp.MustCompile(`\blevel=(WARN|ERROR)\b`)
	logMessage = regexp.MustCompile(`\bmsg=("(?:[^"\\]|\\.)*"|\S+)`)
)

// LogSummary reads the process's log (slog's text format).
func (p *Proc) LogSummary() LogSummary {
	var s LogSummary
	f, err := os.Open(p.LogPath)
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
		s.Warnings = append(s.Warnings, WarningCount{Message: msg, Count: 1, Example: line})
	}
	return s
}
