package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// The test binary re-executes itself as the runner, as the command does.
func TestMain(m *testing.M) {
	runnerMain()
	os.Exit(m.Run())
}

// TestQuickRun runs the whole benchmark with tiny numbers: every row is
// measured or says why not, runc and crun are measured when installed (so
// the runner and the bundle work), and nothing is left behind. It never
// checks how fast: benchmarks do not gate tests.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds shepherd-shim and runs containers")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces, mounts and cgroups")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox: install Debian's busybox-static")
	}
	tmp := t.TempDir()
	cfg, err := parseFlags([]string{"-n=4", "-warmup=1", "-tmpdir=" + tmp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}

	for _, tl := range res.Tools {
		if tl.Skipped != "" {
			if len(tl.headline()) != 0 {
				t.Errorf("%s: skipped (%s) but measured %d times", tl.Name, tl.Skipped, len(tl.headline()))
			}
			continue
		}
		for i, s := range tl.Series {
			if got := len(tl.Lat[i]) + tl.Failures; got < cfg.N {
				t.Errorf("%s %s: %d figures and %d failures; want %d iterations", tl.Name, s, len(tl.Lat[i]), tl.Failures, cfg.N)
			}
			for _, d := range tl.Lat[i] {
				if d <= 0 {
					t.Errorf("%s %s: a figure of %v", tl.Name, s, d)
				}
			}
		}
	}
	for _, name := range []string{shepherdRow, phasesRow, noCgroupRow, execRow, shimRow, emptyGoRow} {
		if tl := res.row(name); tl == nil || len(tl.headline()) != cfg.N || tl.Failures != 0 {
			t.Errorf("%s: want %d figures and no failure; got %+v", name, cfg.N, tl)
		}
	}
	for _, name := range []string{runcRow, crunRow} {
		if _, err := lookTool(name); err != nil {
			if !strings.Contains(res.row(name).Skipped, "not installed") {
				t.Errorf("%s is missing, but its row says %q", name, res.row(name).Skipped)
			}
			continue
		}
		if tl := res.row(name); len(tl.headline()) == 0 {
			t.Errorf("%s is installed but measured nothing: skipped %q, errors %q", name, tl.Skipped, tl.Errors)
		}
	}

	c := res.Cleanup
	if c == nil {
		t.Fatal("no cleanup report")
	}
	if len(c.Shepherd)+len(c.OCI) > 0 || len(c.Mounts) > 0 || len(c.Cgroups) > 0 || len(c.Errors) > 0 || !c.Removed {
		t.Errorf("cleanup left something: %+v", c)
	}
	if len(c.LayerChanges) > 0 {
		t.Errorf("the shared rootfs changed: %q", c.LayerChanges)
	}
	if strings.Join(c.HostCgroup2, ",") != strings.Join(res.HostCgroups.V2, ",") {
		t.Errorf("the host's cgroup2 mounts are %q, were %q", c.HostCgroup2, res.HostCgroups.V2)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("the run's directory is still in %s: %v", tmp, entries)
	}
	if !bytes.Contains(out.Bytes(), []byte("targets met:")) {
		t.Error("the report has no summary line")
	}
}

// TestServeRefusesHostNamespace: a runner that was not given a mount
// namespace of its own must not unmount the host's cgroup file system.
func TestServeRefusesHostNamespace(t *testing.T) {
	var out bytes.Buffer
	err := serve(strings.NewReader(""), &out)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("serve in the test's own mount namespace: %v, want a refusal", err)
	}
	var ready readyMsg
	if err := json.Unmarshal(out.Bytes(), &ready); err != nil || ready.Err == "" || len(ready.Unmounted) > 0 {
		t.Errorf("ready message %q (%v); want an error and nothing unmounted", out.String(), err)
	}
}

func TestEditConfig(t *testing.T) {
	in := `{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"],"cwd":"/"},
		"root":{"path":"rootfs","readonly":false},"hostname":"runc",
		"linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],
		"maskedPaths":["/proc/kcore"]}}`
	out, err := editConfig([]byte(in), "/layers/fs")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Process struct {
			Terminal bool
			Args     []string
			Cwd      string
		}
		Root struct {
			Path     string
			Readonly bool
		}
		Hostname string
		Linux    struct {
			Namespaces  []struct{ Type string }
			MaskedPaths []string
		}
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Process.Terminal || strings.Join(cfg.Process.Args, " ") != "/bin/true" || cfg.Process.Cwd != "/" {
		t.Errorf("process %+v; want /bin/true without a terminal, cwd kept", cfg.Process)
	}
	if cfg.Root.Path != "/layers/fs" || !cfg.Root.Readonly {
		t.Errorf("root %+v; want /layers/fs read-only", cfg.Root)
	}
	if cfg.Hostname != "runc" || len(cfg.Linux.MaskedPaths) != 1 {
		t.Errorf("fields the edit does not touch were lost: hostname %q, masked paths %q", cfg.Hostname, cfg.Linux.MaskedPaths)
	}
	var nss []string
	for _, ns := range cfg.Linux.Namespaces {
		nss = append(nss, ns.Type)
	}
	if got := strings.Join(nss, ","); got != "pid,network,ipc,uts,mount,cgroup" {
		t.Errorf("namespaces %s; want the five defaults and cgroup", got)
	}

	again, err := editConfig(out, "/layers/fs")
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("editing twice changed the config (or failed: %v):\n%s\nthen\n%s", err, out, again)
	}
	if _, err := editConfig([]byte(`{"process":{}}`), "/x"); err == nil {
		t.Error("a config without linux was accepted")
	}
}

func TestParseMounts(t *testing.T) {
	info := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 master:3 - cgroup2 cgroup2 rw
50 22 0:40 / /tmp/run\040dir/rootfs rw - overlay overlay rw,lowerdir=/a
51 22 0:41 / /tmp/run\040dir-other rw - tmpfs tmpfs rw
`
	ms, err := parseMounts(strings.NewReader(info))
	if err != nil {
		t.Fatal(err)
	}
	l := layoutOf(ms)
	if !l.hybrid() || strings.Join(l.V1, ",") != "/sys/fs/cgroup/cpu" || strings.Join(l.V2, ",") != "/sys/fs/cgroup/unified" {
		t.Errorf("layout %+v; want hybrid with cpu in v1 and cgroup2 at /sys/fs/cgroup/unified", l)
	}
	if got := mountsUnder(ms, "/tmp/run dir"); len(got) != 1 || got[0] != "/tmp/run dir/rootfs" {
		t.Errorf("mounts under /tmp/run dir: %q; want only its rootfs, not a sibling sharing the prefix", got)
	}
	if (cgroupLayout{V2: []string{"/sys/fs/cgroup"}}).hybrid() {
		t.Error("a unified host was taken for hybrid")
	}
	if _, err := parseMounts(strings.NewReader("1 2 3\n")); err == nil {
		t.Error("a malformed line was accepted")
	}
}

func TestFingerprintDiff(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := fingerprintDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := fingerprintDir(dir)
	if d := before.diff(same, 5); len(d) != 0 {
		t.Errorf("an untouched directory differs: %q", d)
	}
	os.Chtimes(filepath.Join(dir, "a"), time.Unix(1, 0), time.Unix(1, 0))
	os.Mkdir(filepath.Join(dir, "proc"), 0o755)
	after, _ := fingerprintDir(dir)
	d := before.diff(after, 5)
	if len(d) != 3 || !strings.HasPrefix(d[0], ".: ") || !strings.HasPrefix(d[1], "a: ") || d[2] != "proc: added" {
		t.Errorf("diff %q; want the directory's and a's mtimes changed and proc added", d)
	}
}

// TestMeasure checks the round robin with fake tools: warm-up rounds are
// discarded, each round starts one tool further along, a tool whose first
// attempts all fail is dropped, and a tool failing later keeps measuring.
func TestMeasure(t *testing.T) {
	var order []string
	fake := func(name string, fail func(attempt int) bool) *tool {
		attempt := 0
		return &tool{
			Name: name, Series: []string{"a", "b"}, Lat: make([]benchutil.Latencies, 2),
			once: func(_ context.Context, id string) ([]time.Duration, error) {
				order = append(order, name)
				attempt++
				if fail(attempt) {
					return nil, errors.New("boom")
				}
				return []time.Duration{time.Duration(attempt), 2 * time.Duration(attempt)}, nil
			},
		}
	}
	good := fake("good", func(int) bool { return false })
	broken := fake("broken", func(int) bool { return true })
	flaky := fake("flaky", func(a int) bool { return a == 4 })
	if err := measure(context.Background(), []*tool{good, broken, flaky}, "p", 2, 5); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order[:6], " "); got != "good broken flaky broken flaky good" {
		t.Errorf("first two rounds ran %q; want each round to start one tool further along", got)
	}
	if len(good.Lat[0]) != 5 || good.Lat[0][0] != 3 || good.Lat[1][0] != 6 {
		t.Errorf("good: %v; want 5 figures per series, the first from attempt 3 (after 2 warm-up)", good.Lat)
	}
	if broken.Attempts != maxFailStreak || broken.Skipped == "" || len(broken.headline()) != 0 || len(broken.Errors) == 0 {
		t.Errorf("broken: %d attempts, skipped %q; want %d attempts, then skipped with its error kept", broken.Attempts, broken.Skipped, maxFailStreak)
	}
	if flaky.Attempts != 7 || flaky.Failures != 1 || len(flaky.headline()) != 4 || flaky.Skipped != "" {
		t.Errorf("flaky: %d attempts, %d failures, %d figures, skipped %q; want 7, 1, 4, not skipped",
			flaky.Attempts, flaky.Failures, len(flaky.headline()), flaky.Skipped)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := measure(ctx, []*tool{fake("x", func(int) bool { return false })}, "p", 0, 100); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled measure returned %v", err)
	}
}
