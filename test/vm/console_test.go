package vm

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// marker starts every line the guest's init prints for the test.
func marker(token string) string { return "SHEPHERD-VM " + token + " " }

// guestRun is what the console says happened in the guest.
type guestRun struct {
	done bool
	// info holds the guest's "<key> <value>" marker lines (kernel,
	// controllers, subtree_control).
	info     map[string]string
	binaries map[string]*binaryRun
}

// binaryRun is one test binary's run in the guest.
type binaryRun struct {
	exit    int // -1 until its end marker
	output  []string
	results map[string]string // test name to PASS, FAIL or SKIP
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(`)

// parseConsole reads the guest's console output: the marker lines of
// guest/init and, between a binary's begin and end, go test -v's output.
func parseConsole(out, token string) guestRun {
	run := guestRun{info: map[string]string{}, binaries: map[string]*binaryRun{}}
	prefix := marker(token)
	var cur *binaryRun
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		i := strings.Index(line, prefix)
		if i < 0 {
			if cur != nil {
				cur.output = append(cur.output, line)
				if m := resultLine.FindStringSubmatch(line); m != nil {
					cur.results[m[2]] = m[1]
				}
			}
			continue
		}
		if i > 0 && cur != nil {
			// A test's last output without a newline.
			cur.output = append(cur.output, line[:i])
		}
		key, value, _ := strings.Cut(line[i+len(prefix):], " ")
		switch key {
		case "begin":
			cur = &binaryRun{exit: -1, results: map[string]string{}}
			run.binaries[value] = cur
		case "end":
			name, exit, _ := strings.Cut(value, " exit=")
			if b := run.binaries[name]; b != nil {
				b.exit, _ = strconv.Atoi(exit)
			}
			cur = nil
		case "done":
			run.done = true
		default:
			run.info[key] = value
		}
	}
	return run
}

// summary counts the binary's top-level results and names what skipped
// or failed.
func (b *binaryRun) summary() string {
	count := map[string][]string{}
	for name, r := range b.results {
		if !strings.Contains(name, "/") {
			count[r] = append(count[r], name)
		}
	}
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", len(count["PASS"]), len(count["FAIL"]), len(count["SKIP"]))
	for _, r := range []string{"FAIL", "SKIP"} {
		if len(count[r]) > 0 {
			slices.Sort(count[r])
			s += fmt.Sprintf("; %s: %s", strings.ToLower(r), strings.Join(count[r], " "))
		}
	}
	return s
}

// topLevelResults are go test's "--- PASS: TestX (0.01s)" lines of the
// binary's top-level tests, in order.
func (b *binaryRun) topLevelResults() []string {
	var out []string
	for _, l := range b.output {
		if strings.HasPrefix(l, "--- ") && resultLine.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func TestParseConsole(t *testing.T) {
	out := "SeaBIOS\r\n" +
		"SHEPHERD-VM tok init\r\n" +
		"SHEPHERD-VM tok controllers cpu memory pids\r\n" +
		"SHEPHERD-VM tok begin a.test\r\n" +
		"=== RUN   TestA\r\n" +
		"--- PASS: TestA (0.00s)\r\n" +
		"=== RUN   TestB\r\n" +
		"    x_test.go:1: SHEPHERD-VM other end a.test exit=0\r\n" +
		"--- SKIP: TestB (0.00s)\r\n" +
		"=== RUN   TestC\r\n" +
		"    --- FAIL: TestC/sub (0.00s)\r\n" +
		"--- FAIL: TestC (0.00s)\r\n" +
		"FAILSHEPHERD-VM tok end a.test exit=1\r\n" +
		"SHEPHERD-VM tok begin b.test\r\n" +
		"--- PASS: TestD (0.00s)\r\n"
	run := parseConsole(out, "tok")
	if run.done {
		t.Error("done without the done marker")
	}
	if got := run.info["controllers"]; got != "cpu memory pids" {
		t.Errorf("controllers %q", got)
	}
	a, b := run.binaries["a.test"], run.binaries["b.test"]
	if a == nil || b == nil {
		t.Fatalf("binaries %v", run.binaries)
	}
	if a.exit != 1 || b.exit != -1 {
		t.Errorf("exits %d, %d; want 1 and -1 (no end)", a.exit, b.exit)
	}
	if got, want := a.summary(), "1 passed, 1 failed, 1 skipped; fail: TestC; skip: TestB"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if a.results["TestC/sub"] != "FAIL" || b.results["TestD"] != "PASS" {
		t.Errorf("results %v, %v", a.results, b.results)
	}
	if last := a.output[len(a.output)-1]; last != "FAIL" {
		t.Errorf("last output line %q, want the text before the end marker", last)
	}
	if got := a.topLevelResults(); len(got) != 3 || got[2] != "--- FAIL: TestC (0.00s)" {
		t.Errorf("top-level results %q", got)
	}
	if run := parseConsole(out+"SHEPHERD-VM tok done\n", "tok"); !run.done {
		t.Error("not done after the done marker")
	}
}
