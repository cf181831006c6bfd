package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/runtime/logs"
)

// writeLog writes lines to a CRI log file as a container's monitor does.
func writeLog(t *testing.T, p string, lines ...string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := logs.NewWriter(f)
	out, errOut := w.Stream(logs.Stdout), w.Stream(logs.Stderr)
	for i, l := range lines {
		s := out
		if i%2 == 1 {
			s = errOut // both streams count
		}
		fmt.Fprintln(s, l)
	}
	out.Close()
	errOut.Close()
}

func TestReadTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var many []string
	for i := 0; i < 100; i++ {
		many = append(many, fmt.Sprintf("line %03d", i))
	}
	shortLog := filepath.Join(dir, "short.log")
	writeLog(t, shortLog, "starting", "failed: no config")
	manyLog := filepath.Join(dir, "many.log")
	writeLog(t, manyLog, many...)
	longLines := filepath.Join(dir, "long.log")
	writeLog(t, longLines, strings.Repeat("a", 1500), strings.Repeat("b", 1500))
	big := strings.Repeat("x", 5000) + "END"

	for _, tc := range []struct {
		name     string
		file     string
		fallback bool
		log      string
		want     string
	}{
		{"the file", file("msg", "DONE\n"), false, shortLog, "DONE\n"},
		{"the file's last 4 KiB", file("big", big), false, "", big[len(big)-4096:]},
		{"empty file, no fallback", file("empty", ""), false, shortLog, ""},
		{"no path set, no fallback", "", false, shortLog, ""},
		{"missing file, no fallback", filepath.Join(dir, "nope"), false, shortLog, ""},
		{"a written file wins over the log", file("msg2", "from file"), true, shortLog, "from file"},
		{"empty file falls back to the log", file("empty2", ""), true, shortLog, "starting\nfailed: no config\n"},
		{"no path set falls back to the log", "", true, shortLog, "starting\nfailed: no config\n"},
		{"missing file falls back to the log", filepath.Join(dir, "nope"), true, shortLog, "starting\nfailed: no config\n"},
		{"the log's last 80 lines", "", true, manyLog, strings.Join(many[20:], "\n") + "\n"},
		{"the log's last 2 KiB", "", true, longLines, (strings.Repeat("a", 1500) + "\n" + strings.Repeat("b", 1500) + "\n")[3002-2048:]},
		{"no log at all", "", true, filepath.Join(dir, "none.log"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readTerminationMessage(tc.file, tc.fallback, tc.log); got != tc.want {
				t.Errorf("got %q (%d bytes), want %q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
		})
	}
	if dirAsFile := readTerminationMessage(dir, false, ""); !strings.HasPrefix(dirAsFile, "Error on reading termination log "+dir+": ") {
		t.Errorf("unreadable file: %q", dirAsFile)
	}
}

func TestFallsBackToLogs(t *testing.T) {
	fallback := &corev1.Container{TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError}
	file := &corev1.Container{TerminationMessagePolicy: corev1.TerminationMessageReadFile}
	for _, tc := range []struct {
		c    *corev1.Container
		code int
		want bool
	}{
		{fallback, 1, true}, {fallback, 137, true}, {fallback, 0, false}, {file, 1, false}, {nil, 1, false},
	} {
		if got := fallsBackToLogs(tc.c, tc.code); got != tc.want {
			t.Errorf("policy %v exit %d: %v, want %v", tc.c, tc.code, got, tc.want)
		}
	}
}

// The message is the terminated state's (and lastState's after a
// restart), after the runtime's own reason; a pod's messages share 12 KiB.
func TestStatusTerminationMessages(t *testing.T) {
	cs := containerStatus(containerView{Name: "c", Cur: exited("a", 0), Message: "bye"})
	if st := cs.State.Terminated; st == nil || st.Message != "bye" {
		t.Errorf("terminated: %+v", cs.State)
	}
	cs = containerStatus(containerView{Name: "c", Cur: running("b"), Prev: exited("a", 1), PrevMessage: "crashed", Message: "stale", RestartCount: 1, Started: true})
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.Message != "crashed" {
		t.Errorf("lastState after a restart: %+v", cs.LastTerminationState)
	}
	cs = containerStatus(containerView{Name: "c", Cur: exited("a", 1), WaitReason: "CrashLoopBackOff", Message: "crashed"})
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.Message != "crashed" {
		t.Errorf("lastState in back-off: %+v", cs.LastTerminationState)
	}
	failed := exited("a", 128)
	failed.Exit.Reason = "exec: no such file"
	if cs = containerStatus(containerView{Name: "c", Cur: failed, Message: "tail"}); cs.State.Terminated.Message != "exec: no such file: tail" {
		t.Errorf("with the runtime's reason: %q", cs.State.Terminated.Message)
	}

	pod := statusPod(corev1.RestartPolicyNever, 1, 2) // 3 containers: 4096 bytes each
	big := strings.Repeat("m", 4096) + "cut"
	v := &podView{SandboxReady: true, StartTime: t0,
		Init: []containerView{{Name: "inita", Cur: exited("1", 0), Message: big}},
		Containers: []containerView{
			{Name: "ca", Cur: exited("2", 0), Message: "short"},
			{Name: "cb", Cur: running("4"), Prev: exited("3", 1), PrevMessage: big, RestartCount: 1, Started: true},
		}}
	st := computeStatus(pod, v, t0)
	if m := st.InitContainerStatuses[0].State.Terminated.Message; m != big[:4096] {
		t.Errorf("init container message %d bytes, want 4096", len(m))
	}
	if m := st.ContainerStatuses[0].State.Terminated.Message; m != "short" {
		t.Errorf("short message %q", m)
	}
	if m := st.ContainerStatuses[1].LastTerminationState.Terminated.Message; m != big[:4096] {
		t.Errorf("lastState message %d bytes, want 4096", len(m))
	}
}
