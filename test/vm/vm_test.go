package vm

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guestTests are the packages whose tests run in the guest, and the tests
// of each that must pass there rather than skip: they need the cpu, memory
// and pids controllers (or root and a kernel of our own), which is why the
// VM exists.
var guestTests = []struct {
	pkg      string
	binary   string
	mustPass []string
}{
	{"./runtime/cgroups", "cgroups.test", []string{
		"TestHostOpenReportsWhatTheHostOffers",
		"TestHostContainerLifecycle",
		"TestHostKillBySignal",
		"TestHostOOMKill",
	}},
	{"./runtime/container", "container.test", []string{
		"TestIsolation",
		"TestContainerCgroup",
		"TestContainerCgroupV2Limits",
		"TestContainerPidsLimit",
		"TestContainerOOMKilled",
	}},
}

// guestModules are the kernel modules the guest loads: the runtime's root
// filesystems are overlays.
var guestModules = []string{"overlay"}

// vmTimeout bounds the guest's run: boot, the tests (each binary has
// -test.timeout=120s) and power-off, under software emulation on 2 cores.
const vmTimeout = 6 * time.Minute

func TestCgroupV2InVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the guest's tests run as root, and the kernel image and /dev/kvm are root's")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("needs qemu-system-x86_64: apt-get install --no-install-recommends qemu-system-x86")
	}
	kernel, vmlinuz, err := findCloudKernel()
	if err != nil {
		t.Skipf("needs a Debian cloud kernel: %v: apt-get install --no-install-recommends linux-image-cloud-amd64", err)
	}
	const busybox = "/bin/busybox"
	if err := checkStatic(busybox); err != nil {
		t.Skipf("needs a static %s: %v: apt-get install busybox-static", busybox, err)
	}

	dir := t.TempDir()
	start := time.Now()
	tests := buildTestBinaries(t, dir)
	built := time.Now()
	token := strings.ToLower(rand.Text()[:16])
	initrd := filepath.Join(dir, "initramfs.cpio.gz")
	if err := writeInitramfs(initrd, guest{busybox: busybox, kernel: kernel, modules: guestModules, tests: tests, token: token}); err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	packed := time.Now()
	if fi, err := os.Stat(initrd); err == nil {
		t.Logf("kernel %s; initramfs %.1f MiB; building the tests took %v, packing %v",
			kernel, float64(fi.Size())/(1<<20), built.Sub(start).Round(time.Millisecond), packed.Sub(built).Round(time.Millisecond))
	}

	deadline := time.Now().Add(vmTimeout)
	if d, ok := t.Deadline(); ok && d.Add(-15*time.Second).Before(deadline) {
		deadline = d.Add(-15 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cfg := vmConfig{qemu: qemu, kernel: vmlinuz, initrd: initrd, startedMarker: marker(token) + "init"}
	candidates, noKVM := accels()
	if noKVM != "" {
		t.Logf("not using KVM: %s", noKVM)
	}
	var out string
	for i, a := range candidates {
		bootStart := time.Now()
		var startTimeout time.Duration
		if i < len(candidates)-1 {
			startTimeout = kvmStartTimeout
		}
		out, err = boot(ctx, cfg, a, startTimeout)
		if errors.Is(err, errNotStarted) && i < len(candidates)-1 {
			t.Logf("%s: %v; falling back to %s. qemu said:\n%s", a.name, err, candidates[i+1].name, tail(out, 10))
			continue
		}
		t.Logf("the guest ran under %s for %v", a.name, time.Since(bootStart).Round(time.Millisecond))
		break
	}
	run := parseConsole(out, token)
	// Everything below reads run; the whole console helps with any failure.
	defer func() {
		if t.Failed() {
			t.Logf("guest console:\n%s", out)
		}
	}()
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	if !run.done {
		t.Fatal("the guest powered off without finishing its tests")
	}
	t.Logf("guest: kernel %s; root cgroup controllers %q", run.info["kernel"], run.info["controllers"])
	for _, c := range []string{"cpu", "memory", "pids"} {
		if !slices.Contains(strings.Fields(run.info["controllers"]), c) {
			t.Errorf("the guest's root cgroup does not offer %s: %q", c, run.info["controllers"])
		}
	}

	for _, gt := range guestTests {
		b := run.binaries[gt.binary]
		if b == nil {
			t.Errorf("%s did not run in the guest", gt.binary)
			continue
		}
		t.Logf("%s: exit %d, %s\n%s", gt.binary, b.exit, b.summary(), strings.Join(b.topLevelResults(), "\n"))
		if b.exit != 0 {
			t.Errorf("%s exited %d in the guest", gt.binary, b.exit)
		}
		for _, name := range gt.mustPass {
			if got := b.results[name]; got != "PASS" {
				t.Errorf("%s: %s %s in the guest, want PASS", gt.binary, name, or(got, "did not run"))
			}
		}
	}

	// What Manager.Controllers said in the guest, as the cgroups package's
	// TestHostOpenReportsWhatTheHostOffers logs it.
	if b := run.binaries["cgroups.test"]; b != nil {
		m := regexp.MustCompile(`Controllers\(\) = \[([^\]]*)\]`).FindStringSubmatch(strings.Join(b.output, "\n"))
		if m == nil {
			t.Error(`the cgroups tests did not log "Controllers() = [...]"`)
		} else {
			for _, c := range []string{"cpu", "memory", "pids"} {
				if !slices.Contains(strings.Fields(m[1]), c) {
					t.Errorf("in the guest Manager.Controllers() = [%s], lacking %s", m[1], c)
				}
			}
		}
	}
}

// buildTestBinaries builds the guest's test binaries into dir, static and
// without the race detector (which needs cgo), and returns their paths.
func buildTestBinaries(t *testing.T, dir string) []string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD: %q, %v", gomod, err)
	}
	args := []string{"test", "-c", "-o", dir + "/"}
	var paths []string
	for _, gt := range guestTests {
		args = append(args, gt.pkg)
		paths = append(paths, filepath.Join(dir, gt.binary))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return paths
}

func withoutRace(goflags string) string {
	return strings.Join(slices.DeleteFunc(strings.Fields(goflags), func(f string) bool {
		return f == "-race" || f == "--race" || strings.HasPrefix(f, "-race=")
	}), " ")
}

// findCloudKernel returns the newest /boot/vmlinuz-<version>-cloud-amd64
// whose modules are installed, and its version.
func findCloudKernel() (version, vmlinuz string, err error) {
	images, _ := filepath.Glob("/boot/vmlinuz-*-cloud-amd64")
	if len(images) == 0 {
		return "", "", errors.New("no /boot/vmlinuz-*-cloud-amd64")
	}
	var found []string
	for _, img := range images {
		v := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", v, "modules.dep")); err == nil {
			found = append(found, v)
		}
	}
	if len(found) == 0 {
		return "", "", fmt.Errorf("%v without their /lib/modules/<version>/modules.dep", images)
	}
	slices.SortFunc(found, compareVersions)
	version = found[len(found)-1]
	return version, "/boot/vmlinuz-" + version, nil
}

// compareVersions orders "6.1.0-9-cloud-amd64" before "6.1.0-10-...":
// digit runs compare as numbers, the rest as strings.
func compareVersions(a, b string) int {
	split := regexp.MustCompile(`\d+|\D+`)
	pa, pb := split.FindAllString(a, -1), split.FindAllString(b, -1)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na - nb
			}
			continue
		}
		if c := strings.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

// checkStatic checks that name is a statically linked ELF executable.
func checkStatic(name string) error {
	f, err := elf.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("it is dynamically linked")
		}
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

func TestCompareVersions(t *testing.T) {
	vs := []string{"6.1.0-10-cloud-amd64", "6.12.1-1-cloud-amd64", "6.1.0-9-cloud-amd64", "6.1.0-10-cloud-amd64", "6.1.0-1-cloud-amd64"}
	slices.SortFunc(vs, compareVersions)
	want := []string{"6.1.0-1-cloud-amd64", "6.1.0-9-cloud-amd64", "6.1.0-10-cloud-amd64", "6.1.0-10-cloud-amd64", "6.12.1-1-cloud-amd64"}
	if !slices.Equal(vs, want) {
		t.Errorf("sorted %q, want %q", vs, want)
	}
}
