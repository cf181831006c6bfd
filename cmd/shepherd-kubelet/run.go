package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image"
	"github.com/shepherd-lab/shepherd/runtime/logs"
)

type runOptions struct {
	name, hostname, user, workdir, entrypoint, pull, seccomp string
	env, volumes, tmpfs, capAdd, capDrop                     []string
	memory, cpus                                             string
	pidsLimit                                                int64
	remove, detach, privileged, readOnly, noNewPrivs         bool
}

func newRunCommand(o *options) *cobra.Command {
	var r runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [ARG...]",
		Short: "Run a command in a new container",
		Long: `Run a container from an image in the store (pulled first when missing,
see --pull). Arguments after the image replace its Cmd, as a pod's args do;
--entrypoint replaces its Entrypoint, as a pod's command does. In the
foreground the container's output is printed and its exit code returned.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainer(cmd.Context(), o, &r, args[0], args[1:])
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVar(&r.name, "name", "", "Container ID (default: random).")
	f.StringVar(&r.hostname, "hostname", "", "Hostname (default: the first 12 characters of the ID).")
	f.StringVarP(&r.user, "user", "u", "", "User: name, uid, uid:gid or name:group (default: the image's).")
	f.StringVarP(&r.workdir, "workdir", "w", "", "Working directory (default: the image's).")
	f.StringVar(&r.entrypoint, "entrypoint", "", "Replace the image's Entrypoint (a single executable).")
	f.StringVar(&r.pull, "pull", "missing", "Pull the image: missing, always or never.")
	f.StringArrayVarP(&r.env, "env", "e", nil, "Set an environment variable (NAME=value).")
	f.StringArrayVarP(&r.volumes, "volume", "v", nil, "Bind mount a host path: SRC:DEST[:ro].")
	f.StringArrayVar(&r.tmpfs, "tmpfs", nil, "Mount a tmpfs at this path.")
	f.StringSliceVar(&r.capAdd, "cap-add", nil, "Add capabilities (NET_ADMIN, ...).")
	f.StringSliceVar(&r.capDrop, "cap-drop", nil, "Drop capabilities (NET_RAW, ..., or ALL).")
	f.StringVarP(&r.memory, "memory", "m", "", "Memory limit, a Kubernetes quantity (64Mi).")
	f.StringVar(&r.cpus, "cpus", "", "CPU limit, a Kubernetes quantity (500m, 1.5).")
	f.Int64Var(&r.pidsLimit, "pids-limit", 0, "Most processes the container may have (0: unlimited).")
	f.BoolVar(&r.remove, "rm", false, "Remove the container when it exits (foreground only).")
	f.BoolVarP(&r.detach, "detach", "d", false, "Start the container and print its ID.")
	f.BoolVar(&r.privileged, "privileged", false, "All capabilities, no masked paths, writable /sys.")
	f.BoolVar(&r.readOnly, "read-only", false, "Mount the root filesystem read-only.")
	f.BoolVar(&r.noNewPrivs, "no-new-privileges", true, "Set no_new_privs: setuid binaries and file capabilities grant nothing.")
	f.StringVar(&r.seccomp, "seccomp", container.SeccompRuntimeDefault, "Seccomp profile: RuntimeDefault (refuse what Docker's default refuses) or Unconfined.")
	return cmd
}

// imageIDLabel records the image a container runs, so `images rm` can
// refuse to remove it from under the container.
const imageIDLabel = "shepherd.image.id"

func runContainer(_ context.Context, o *options, r *runOptions, ref string, args []string) error {
	// Ctrl-C during a pull or Create cancels it (Create then kills the
	// half-made container); in the foreground it stops the container.
	ctx, cancel := cli.SignalContext()
	defer cancel()
	if r.remove && r.detach {
		return errors.New("--rm and --detach cannot be combined")
	}
	images, err := o.images()
	if err != nil {
		return err
	}
	img, err := ensureImage(ctx, images, ref, r.pull)
	if err != nil {
		return err
	}
	lower, err := images.LayerDirs(img)
	if err != nil {
		return err
	}
	var command []string
	if r.entrypoint != "" {
		command = []string{r.entrypoint}
	}
	argv, err := image.ResolveProcess(img.Config, command, args)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	id := r.name
	if id == "" {
		b := make([]byte, 16)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	spec := &container.Spec{
		ID: id, Lower: lower, Image: firstTag(img), Labels: map[string]string{imageIDLabel: img.ID},
		Hostname: r.hostname, Privileged: r.privileged, ReadonlyRootfs: r.readOnly, Seccomp: r.seccomp,
		Process: container.Process{
			Args: argv, Env: append(append([]string(nil), img.Config.Env...), r.env...),
			Cwd: img.Config.WorkingDir, User: img.Config.User,
			CapAdd: r.capAdd, CapDrop: r.capDrop, NoNewPrivileges: r.noNewPrivs,
		},
	}
	if r.user != "" {
		spec.Process.User = r.user
	}
	if r.workdir != "" {
		spec.Process.Cwd = r.workdir
	}
	if spec.Resources, err = limits(r); err != nil {
		return err
	}
	for _, v := range r.volumes {
		m, err := parseVolume(v)
		if err != nil {
			return err
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	for _, t := range r.tmpfs {
		spec.Mounts = append(spec.Mounts, container.Mount{Destination: t, Type: "tmpfs"})
	}
	rt, err := o.runtime(true)
	if err != nil {
		return err
	}
	st, err := rt.Run(ctx, spec)
	if err != nil {
		if st != nil {
			rt.Delete(context.Background(), id, true)
		}
		return err
	}
	for res, why := range st.CgroupSkipped {
		fmt.Fprintf(os.Stderr, "warning: %s not enforced: %s\n", res, why)
	}
	if st.CgroupUnavailable != "" && (r.memory != "" || r.cpus != "" || r.pidsLimit != 0) {
		fmt.Fprintf(os.Stderr, "warning: no resource limits: %s\n", st.CgroupUnavailable)
	}
	if r.detach {
		fmt.Println(id)
		return nil
	}
	return foreground(ctx, rt, st, r.remove)
}

// foreground prints the container's log as it grows and returns its exit
// code. Ctrl-C (ctx) stops the container (SIGTERM, then SIGKILL after 10 s).
func foreground(ctx context.Context, rt *container.Runtime, st *container.State, remove bool) error {
	done := make(chan container.ExitStatus, 1)
	waitErr := make(chan error, 1)
	go func() {
		ex, err := rt.Wait(context.Background(), st.ID)
		if err != nil {
			waitErr <- err
			return
		}
		done <- ex
	}()
	exited := func() bool { return len(done) > 0 }
	logDone := make(chan error, 1)
	go func() {
		logDone <- logs.Read(context.Background(), st.LogPath, logs.ReadOptions{Tail: -1, Follow: true, Done: exited, Poll: 20 * time.Millisecond}, os.Stdout, os.Stderr)
	}()
	var ex container.ExitStatus
	select {
	case ex = <-done:
		done <- ex
	case err := <-waitErr:
		return err
	case <-ctx.Done():
		rt.Signal(st.ID, syscall.SIGTERM)
		select {
		case ex = <-done:
		case err := <-waitErr:
			return err
		case <-time.After(10 * time.Second):
			rt.Signal(st.ID, syscall.SIGKILL)
			select {
			case ex = <-done:
			case err := <-waitErr:
				return err
			}
		}
		done <- ex
	}
	<-logDone
	if remove {
		if err := rt.Delete(context.Background(), st.ID, true); err != nil {
			return err
		}
	}
	if ex.Reason != "" {
		fmt.Fprintln(os.Stderr, ex.Reason)
	}
	if ex.ExitCode != 0 {
		return exitError{ex.ExitCode}
	}
	return nil
}

func ensureImage(ctx context.Context, images *image.Store, ref, policy string) (*image.Image, error) {
	switch policy {
	case "always":
		return images.Pull(ctx, ref, image.PullOptions{})
	case "missing", "never":
		img, err := images.Get(ref)
		if err == nil || !errors.Is(err, image.ErrNotFound) || policy == "never" {
			return img, err
		}
		return images.Pull(ctx, ref, image.PullOptions{})
	default:
		return nil, fmt.Errorf("--pull %q: want missing, always or never", policy)
	}
}

func firstTag(img *image.Image) string {
	if len(img.RepoTags) > 0 {
		return img.RepoTags[0]
	}
	return img.ID
}

func limits(r *runOptions) (cgroups.Resources, error) {
	var res cgroups.Resources
	if r.memory != "" {
		q, err := resource.ParseQuantity(r.memory)
		if err != nil {
			return res, fmt.Errorf("--memory %q: %w", r.memory, err)
		}
		res.MemoryMax = q.Value()
	}
	if r.cpus != "" {
		q, err := resource.ParseQuantity(r.cpus)
		if err != nil {
			return res, fmt.Errorf("--cpus %q: %w", r.cpus, err)
		}
		res.CPUQuota = cgroups.MilliCPUToQuota(q.MilliValue(), 100000)
		res.CPUWeight = cgroups.SharesToWeight(cgroups.MilliCPUToShares(q.MilliValue()))
	}
	res.PidsMax = r.pidsLimit
	return res, nil
}

func parseVolume(v string) (container.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw") {
		return container.Mount{}, fmt.Errorf("--volume %q: want SRC:DEST[:ro]", v)
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return container.Mount{}, err
	}
	return container.Mount{Source: src, Destination: parts[1], ReadOnly: len(parts) == 3 && parts[2] == "ro"}, nil
}
