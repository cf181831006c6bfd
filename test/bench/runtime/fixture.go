package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image"
	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
	"github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"
)

// busyboxTag is what the busybox image is imported as.
const busyboxTag = "docker.io/library/busybox:latest"

// fixture is everything a run sets up, all of it in one temporary
// directory: the shepherd-shim binary, an image store holding the busybox
// image, Shepherd's runtime state, the OCI bundle and runc's and crun's
// state; plus the bench cgroup and the runner process. close undoes all of
// it and says what it found left over.
type fixture struct {
	dir string
	// prefix starts every name the run gives (containers, cgroups), so
	// leftovers can be found: "shepherd-bench-<pid>".
	prefix string

	shim      string
	shimBuild time.Duration // 0 when given by -shim-binary
	emptyGo   string        // an empty Go program: the floor of a Go process's start
	imageID   string
	layer     string      // the busybox layer directory: every tool's root filesystem
	layerFP   fingerprint // layer as imported
	layerFS   string

	cg     *cgroups.Manager // nil when cgroups.Open failed
	cgNote string           // why Shepherd's containers have no cgroup, if they have none
	rt     *container.Runtime
	// rtNoCg runs containers without cgroups: the difference is what the
	// cgroup costs.
	rtNoCg *container.Runtime
	// rtNoSpare starts each monitor when a container is created.
	rtNoSpare *container.Runtime

	bundle               string
	runcState, crunState string
	// bins maps runc, crun and unshare to their paths; missing ones are
	// absent, and skipped says why, for every row that cannot be measured.
	bins     map[string]string
	versions map[string]string
	skipped  map[string]string
	runner   *runner

	hostLayout cgroupLayout // the host's cgroup mounts before the run
	closed     bool
}

// newFixture makes the run's temporary directory under parent ("" is
// $TMPDIR). Whatever happens next, the caller defers close.
func newFixture(parent string) (*fixture, error) {
	dir, err := os.MkdirTemp(parent, "shepherd-bench-runtime-")
	if err != nil {
		return nil, err
	}
	// Resolved, so that it compares equal to mountinfo's paths.
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	ms, err := readMounts("/proc/self/mountinfo")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &fixture{
		dir:        dir,
		prefix:     fmt.Sprintf("shepherd-bench-%d", os.Getpid()),
		bins:       map[string]string{},
		versions:   map[string]string{},
		skipped:    map[string]string{},
		hostLayout: layoutOf(ms),
	}, nil
}

// setup prepares every tool. Only what Shepherd's row needs is fatal; a
// missing or broken runc, crun or unshare skips its rows, and skipped says
// why.
func (f *fixture) setup(ctx context.Context, cfg config) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: creates namespaces, mounts and cgroups")
	}
	if err := f.setupShim(ctx, cfg.ShimBinary); err != nil {
		return err
	}
	f.setupEmptyGo(ctx)
	if err := f.setupImage(ctx); err != nil {
		return err
	}
	f.setupCgroups()
	// As the kubelet runs it: a spare monitor started ahead.
	rt, err := container.New(container.Config{Root: filepath.Join(f.dir, "shepherd"), ShimPath: f.shim, Cgroups: f.cg, SpareMonitor: true})
	if err != nil {
		return err
	}
	f.rt = rt
	if f.rtNoSpare, err = container.New(container.Config{Root: filepath.Join(f.dir, "shepherd-nospare"), ShimPath: f.shim, Cgroups: f.cg}); err != nil {
		return err
	}
	if f.rtNoCg, err = container.New(container.Config{Root: filepath.Join(f.dir, "shepherd-nocg"), ShimPath: f.shim, SpareMonitor: true}); err != nil {
		return err
	}
	f.setupOCI()
	f.setupUnshare()
	return nil
}

func (f *fixture) setupShim(ctx context.Context, given string) error {
	if given != "" {
		p, err := filepath.Abs(given)
		if err != nil {
			return err
		}
		f.shim = p
		return nil
	}
	root, err := benchutil.ModuleRoot("-shim-binary")
	if err != nil {
		return err
	}
	goBin, err := benchutil.GoCommand("-shim-binary")
	if err != nil {
		return err
	}
	f.shim = filepath.Join(f.dir, "shepherd-shim")
	start := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", f.shim, "./cmd/shepherd-shim")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/shepherd-shim: %w\n%s", err, out)
	}
	f.shimBuild = time.Since(start)
	return nil
}

// setupEmptyGo builds a Go program that does nothing, to time how much of
// the shim's start is Go's own.
func (f *fixture) setupEmptyGo(ctx context.Context) {
	err := func() error {
		goBin, err := benchutil.GoCommand("-shim-binary")
		if err != nil {
			return err
		}
		src := filepath.Join(f.dir, "empty-go", "main.go")
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
			return err
		}
		bin := filepath.Join(f.dir, "empty-go", "empty")
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, src)
		cmd.Dir = filepath.Dir(src)
		cmd.Env = append(os.Environ(), "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", src, err, out)
		}
		f.emptyGo = bin
		return nil
	}()
	if err != nil {
		f.skipped[emptyGoRow] = err.Error()
	}
}

// setupImage imports the busybox image into an image store, as the
// kubelet's `images import` would, and takes its one layer directory.
func (f *fixture) setupImage(ctx context.Context) error {
	img, err := imagetest.BusyboxImage()
	if err != nil {
		return err
	}
	archive := filepath.Join(f.dir, "busybox.tar")
	if err := imagetest.WriteDockerArchive(archive, busyboxTag, img); err != nil {
		return err
	}
	store, err := image.Open(filepath.Join(f.dir, "images"), image.Options{})
	if err != nil {
		return err
	}
	imgs, err := store.Import(ctx, archive)
	if err != nil {
		return err
	}
	if len(imgs) != 1 {
		return fmt.Errorf("import %s: %d images, want 1", archive, len(imgs))
	}
	dirs, err := store.LayerDirs(imgs[0])
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return fmt.Errorf("busybox image %s: %d layers, want 1", imgs[0].ID, len(dirs))
	}
	f.imageID, f.layer = imgs[0].ID, dirs[0]
	f.layerFS = fsName(f.layer)
	f.layerFP, err = fingerprintDir(f.layer)
	return err
}

// setupCgroups gives Shepherd's containers a cgroup each, as in
// production, under a root cgroup of this run's own.
func (f *fixture) setupCgroups() {
	cg, err := cgroups.Open(cgroups.Options{Root: f.prefix})
	switch {
	case err != nil:
		f.cgNote = "cgroups.Open: " + err.Error()
	case !cg.Available():
		f.cgNote = cgroups.ErrNoHierarchy.Error()
		f.cg = cg
	default:
		f.cg = cg
	}
}

// setupOCI finds runc and crun and writes the bundle they share.
func (f *fixture) setupOCI() {
	for _, name := range []string{"runc", "crun"} {
		p, err := lookTool(name)
		if err != nil {
			f.skipped[name] = fmt.Sprintf("%s is not installed (%v): apt-get install -y %s", name, err, name)
			continue
		}
		f.bins[name] = p
		out, _ := exec.Command(p, "--version").Output()
		f.versions[name], _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	gen := f.bins["runc"]
	if gen == "" {
		gen = f.bins["crun"]
	}
	if gen == "" {
		return
	}
	fail := func(err error) {
		for _, name := range []string{"runc", "crun"} {
			if f.bins[name] != "" {
				f.skipped[name] = err.Error()
			}
		}
	}
	f.bundle = filepath.Join(f.dir, "bundle")
	f.runcState, f.crunState = filepath.Join(f.dir, "runc-state"), filepath.Join(f.dir, "crun-state")
	if err := makeBundle(gen, f.bundle, f.layer); err != nil {
		fail(err)
		return
	}
	r, err := startRunner(f.dir)
	if err != nil {
		fail(err)
		return
	}
	f.runner = r
}

// setupUnshare finds unshare and tries the six-namespace variant once:
// -C needs a kernel with cgroup namespaces.
func (f *fixture) setupUnshare() {
	p, err := lookTool("unshare")
	if err != nil {
		f.skipped[unshare5] = fmt.Sprintf("unshare is not installed (%v): apt-get install -y util-linux", err)
		f.skipped[unshare6] = f.skipped[unshare5]
		return
	}
	f.bins["unshare"] = p
	if err := timedExec(unshareArgv(p, true)).check(0); err != nil {
		f.skipped[unshare6] = "unshare -C does not work here: " + err.Error()
	}
}

func unshareArgv(unshare string, cgroupNS bool) []string {
	argv := []string{unshare, "-m", "-p", "-u", "-i", "-n"}
	if cgroupNS {
		argv = append(argv, "-C")
	}
	return append(argv, "--fork", "/bin/true")
}

// lookTool finds name on $PATH or in the sbin directories, which a
// non-login root shell may lack on $PATH (Debian's runc is /usr/sbin/runc).
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if p := filepath.Join(d, name); unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
	}
	return "", err
}

// fsName names the file system dir is on, by statfs(2)'s magic.
func fsName(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint32(st.Type) {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("file system magic %#x", uint32(st.Type))
}

// busyboxVersion is the first line busybox prints about itself.
func busyboxVersion() string {
	out, _ := exec.Command(imagetest.BusyboxPath).Output()
	line, _ := bufio.NewReader(bytes.NewReader(out)).ReadString('\n')
	line = strings.TrimSuffix(strings.TrimSpace(line), " multi-call binary.")
	if line == "" {
		return "unknown version"
	}
	return line
}
