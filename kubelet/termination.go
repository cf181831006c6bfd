package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/shepherd-lab/shepherd/runtime/logs"
)

// Termination messages, as Kubernetes records them: each attempt of a
// container gets a host file of its own, bind-mounted read-write at its
// terminationMessagePath (default /dev/termination-log); once the attempt
// has ended, what the container wrote there becomes
// state.terminated.message (lastState's after a restart).

// Kubernetes' limits (kubecontainer's constants).
const (
	// maxTerminationMessage bounds what is read of the file: its last
	// 4 KiB.
	maxTerminationMessage = 4 << 10
	// maxTerminationLogBytes and maxTerminationLogLines bound the message
	// taken from the log by FallbackToLogsOnError: the last 2 KiB of the
	// last 80 lines.
	maxTerminationLogBytes = 2 << 10
	maxTerminationLogLines = 80
	// maxPodTerminationMessages is what all of a pod's messages may take
	// together in its status: each container's is cut to an even share.
	maxPodTerminationMessages = 12 << 10
)

// terminationMessageFile is where the attempt's termination message file
// lives on the host: <pod dir>/containers/<name>/<attempt>.
func terminationMessageFile(podDir, name string, attempt int) string {
	return filepath.Join(podDir, "containers", name, strconv.Itoa(attempt))
}

// makeTerminationMessageFile creates the attempt's file empty (a failed
// start may have left one), mode 0666 so a container of any user can
// write it, as Kubernetes does.
func makeTerminationMessageFile(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		return err
	}
	return os.Chmod(p, 0o666)
}

// readTerminationMessage is the message of a finished attempt, read as
// Kubernetes reads it: the last 4 KiB of its file (none without a
// terminationMessagePath); with fallbackToLogs (policy
// FallbackToLogsOnError and a non-zero exit), when the file is empty or
// missing, the last 2 KiB of the last 80 lines of its log. Failures to
// read are the message, in Kubernetes' words.
func readTerminationMessage(file string, fallbackToLogs bool, logPath string) string {
	if file != "" {
		data, err := readLast(file, maxTerminationMessage)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Sprintf("Error on reading termination log %s: %v", file, err)
		case len(data) > 0 || !fallbackToLogs:
			return string(data)
		}
	}
	if !fallbackToLogs {
		return ""
	}
	tail := &lastBytes{max: maxTerminationLogBytes}
	if err := logs.Read(context.Background(), logPath, logs.ReadOptions{Tail: maxTerminationLogLines}, tail, nil); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	return string(tail.b)
}

// readLast reads the last max bytes of the file at p.
func readLast(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// lastBytes keeps the last max bytes written to it.
type lastBytes struct {
	b   []byte
	max int
}

func (l *lastBytes) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if over := len(l.b) - l.max; over > 0 {
		l.b = append(l.b[:0], l.b[over:]...)
	}
	return len(p), nil
}

// fallsBackToLogs: the container's policy is FallbackToLogsOnError and
// the attempt failed.
func fallsBackToLogs(c *corev1.Container, exitCode int) bool {
	return c != nil && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && exitCode != 0
}

// capTerminationMessages cuts every termination message of the status to
// an even share of maxPodTerminationMessages among the pod's containers
// and init containers, as Kubernetes' status manager does.
func capTerminationMessages(pod *corev1.Pod, st *corev1.PodStatus) {
	share := maxPodTerminationMessages
	if n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers); n > 0 {
		share /= n
	}
	cut := func(t *corev1.ContainerStateTerminated) {
		if t != nil && len(t.Message) > share {
			t.Message = t.Message[:share]
		}
	}
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for i := range list {
			cut(list[i].State.Terminated)
			cut(list[i].LastTerminationState.Terminated)
		}
	}
}
