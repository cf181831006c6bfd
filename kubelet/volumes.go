package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/internal/mountinfo"
	"github.com/shepherd-lab/shepherd/runtime/container"
)

// Volume directories are named after Kubernetes' volume plugins, so the
// layout under <root-dir>/pods/<uid>/volumes is the one Kubernetes users
// know.
const (
	kindEmptyDir    = "kubernetes.io~empty-dir"
	kindConfigMap   = "kubernetes.io~configmap"
	kindSecret      = "kubernetes.io~secret"
	kindDownwardAPI = "kubernetes.io~downward-api"
	kindProjected   = "kubernetes.io~projected"
)

// errVolumeUnsupported is wrapped by Setup's error for a volume kind (or
// emptyDir medium, or projected source) Shepherd's kubelet cannot provide:
// persistentVolumeClaim, nfs, csi, image, ….
var errVolumeUnsupported = errors.New("type not supported by Shepherd's kubelet")

// defaultFileMode is Kubernetes' defaultMode of configMap, secret,
// downwardAPI and projected volumes.
const defaultFileMode = 0o644

// volumeManager prepares a pod's volumes on the host, under
// Root/<pod UID>/volumes/<kind>/<volume name>. Calls for one pod must not
// overlap (its worker makes them); calls for different pods may.
//
// What Kubernetes does and this does not: enforcing an on-disk emptyDir's
// sizeLimit (Kubernetes evicts the pod), fsGroupChangePolicy (an emptyDir
// is given to fsGroup when made, configMap, secret, downwardAPI and
// projected volumes whenever written, which is what Kubernetes does for
// them whatever the policy), mountPropagation and recursiveReadOnly
// (containers' mounts are private, and read-only is the runtime's plain
// remount).
type volumeManager struct {
	Root string // <kubelet root-dir>/pods
	Get  objectGetter
	Log  *slog.Logger
}

func (m *volumeManager) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

// podDir is Root/<uid>; a UID that is not one path element is refused.
func (m *volumeManager) podDir(uid types.UID) (string, error) {
	if m.Root == "" {
		return "", errors.New("volume manager: no root directory")
	}
	if !isPathElement(string(uid)) {
		return "", fmt.Errorf("pod UID %q: not usable as a directory name", uid)
	}
	return filepath.Join(m.Root, string(uid)), nil
}

func isPathElement(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// Setup makes every volume of the pod ready and returns the host path of
// each, by volume name. It is idempotent and meant to be called again
// periodically: configMap, secret, downwardAPI and projected volumes whose
// content changed are rewritten in place, atomically (see writeAtomic), so
// a container sees the old content or the new, never a mix.
//
// A volume that cannot be set up does not stop the others: the error joins
// one error per failed volume, each naming it, and the map holds the
// volumes that are ready. A reference to a missing, non-optional ConfigMap,
// Secret or key is a *configError; a volume kind Shepherd cannot provide
// wraps errVolumeUnsupported.
func (m *volumeManager) Setup(ctx context.Context, pod *corev1.Pod, f podFacts) (map[string]string, error) {
	podDir, err := m.podDir(pod.UID)
	if err != nil {
		return nil, err
	}
	objs := newObjectCache(m.Get, pod.Namespace)
	paths := make(map[string]string, len(pod.Spec.Volumes))
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		p, err := m.setupVolume(ctx, objs, pod, f, podDir, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
			continue
		}
		paths[v.Name] = p
	}
	return paths, errors.Join(errs...)
}

func (m *volumeManager) setupVolume(ctx context.Context, objs *objectCache, pod *corev1.Pod, f podFacts, podDir string, v *corev1.Volume) (string, error) {
	if !isPathElement(v.Name) {
		return "", errors.New("name not usable as a directory name")
	}
	src := &v.VolumeSource
	dir := func(kind string) string { return filepath.Join(podDir, "volumes", kind, v.Name) }
	files := map[string]fileProjection{}
	var fsGroup *int64
	if pod.Spec.SecurityContext != nil {
		fsGroup = pod.Spec.SecurityContext.FSGroup
	}
	var err error
	switch {
	case src.HostPath != nil:
		t := corev1.HostPathUnset
		if src.HostPath.Type != nil {
			t = *src.HostPath.Type
		}
		return src.HostPath.Path, checkHostPath(src.HostPath.Path, t)
	case src.EmptyDir != nil:
		return dir(kindEmptyDir), setupEmptyDir(dir(kindEmptyDir), src.EmptyDir, memoryVolumeSize(pod, f, src.EmptyDir), fsGroup)
	case src.ConfigMap != nil:
		s := src.ConfigMap
		if err = configMapFiles(ctx, objs, s.Name, s.Items, s.DefaultMode, isOptional(s.Optional), files); err != nil {
			return "", err
		}
		return m.project(dir(kindConfigMap), false, files, fsGroup)
	case src.Secret != nil:
		s := src.Secret
		if err = secretFiles(ctx, objs, s.SecretName, s.Items, s.DefaultMode, isOptional(s.Optional), files); err != nil {
			return "", err
		}
		return m.project(dir(kindSecret), true, files, fsGroup)
	case src.DownwardAPI != nil:
		if err = downwardAPIFiles(pod, f, src.DownwardAPI.Items, src.DownwardAPI.DefaultMode, files); err != nil {
			return "", err
		}
		return m.project(dir(kindDownwardAPI), true, files, fsGroup)
	case src.Projected != nil:
		d := dir(kindProjected)
		_, statErr := os.Lstat(d)
		first := errors.Is(statErr, fs.ErrNotExist)
		if err = m.projectedFiles(ctx, objs, pod, f, v.Name, src.Projected, first, files); err != nil {
			return "", err
		}
		return m.project(d, true, files, fsGroup)
	}
	return "", fmt.Errorf("%w (%s)", errVolumeUnsupported, volumeSourceType(src))
}

// volumeSourceType is the JSON name of the source's kind
// ("persistentVolumeClaim").
func volumeSourceType(src *corev1.VolumeSource) string {
	data, err := json.Marshal(src)
	var fields map[string]json.RawMessage
	if err == nil && json.Unmarshal(data, &fields) == nil {
		for k := range fields {
			return k
		}
	}
	return "no source"
}

// project writes files into the volume directory dir, on a tmpfs of its
// own when inMemory (so a Secret's data never reaches a disk, as
// Kubernetes does for secret, downwardAPI and projected volumes), owned
// by fsGroup when set (see writeAtomic).
func (m *volumeManager) project(dir string, inMemory bool, files map[string]fileProjection, fsGroup *int64) (string, error) {
	if err := makeVolumeDir(dir, 0o755); err != nil {
		return "", err
	}
	if inMemory {
		if err := mountTmpfs(dir, 0, unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
			return "", err
		}
	}
	changed, err := writeAtomic(dir, files, fsGroup)
	if err != nil {
		return "", err
	}
	if changed {
		m.log().Debug("volume content written", "dir", dir, "files", len(files))
	}
	return dir, nil
}

// makeVolumeDir makes dir with mode perm (set exactly, whatever the umask),
// and its parents 0750, as Kubernetes' pod directories.
func makeVolumeDir(dir string, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return err
	}
	return os.Chmod(dir, perm)
}

// setupEmptyDir makes an emptyDir: a world-writable directory, or for
// medium Memory a tmpfs of memSize bytes (0: the kernel's default, half
// of RAM) mounted on it, so every container of the pod shares it. With
// fsGroup, the new volume's directory gets that group and the setgid bit
// (02777, or 03777 for a tmpfs, whose root is sticky), as Kubernetes' SetVolumeOwnership gives a writable volume, so
// what the pod's containers create there is the group's.
func setupEmptyDir(dir string, ed *corev1.EmptyDirVolumeSource, memSize int64, fsGroup *int64) error {
	_, statErr := os.Lstat(dir)
	first := errors.Is(statErr, fs.ErrNotExist)
	if err := makeVolumeDir(dir, 0o777); err != nil {
		return err
	}
	switch ed.Medium {
	case corev1.StorageMediumDefault:
	case corev1.StorageMediumMemory:
		if err := mountTmpfs(dir, memSize, 0, ""); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w (emptyDir medium %s)", errVolumeUnsupported, ed.Medium)
	}
	if first && fsGroup != nil {
		info, err := os.Lstat(dir)
		if err != nil {
			return err
		}
		if err := os.Chown(dir, -1, int(*fsGroup)); err != nil {
			return err
		}
		// 0777 already has the group bits Kubernetes adds (0660|0110).
		return os.Chmod(dir, info.Mode()&(fs.ModePerm|fs.ModeSticky)|fs.ModeSetgid)
	}
	return nil
}

// memoryVolumeSize is the size of a memory-backed emptyDir, as Kubernetes
// sizes it: the smallest of the node's allocatable memory, the pod's
// memory limit (when it has one) and the volume's sizeLimit; 0 when none
// is known.
func memoryVolumeSize(pod *corev1.Pod, f podFacts, ed *corev1.EmptyDirVolumeSource) int64 {
	var size int64
	smaller := func(v int64) {
		if v > 0 && (size == 0 || v < size) {
			size = v
		}
	}
	if q, ok := f.NodeAllocatable[corev1.ResourceMemory]; ok {
		smaller(q.Value())
	}
	smaller(podMemoryLimit(pod))
	if ed.SizeLimit != nil {
		smaller(ed.SizeLimit.Value())
	}
	return size
}

// podMemoryLimit is the memory a pod's cgroup is limited to: its
// containers' and sidecars' limits together, or an init container's when
// larger, plus the pod's overhead; 0 (no limit) when a container has
// none.
func podMemoryLimit(pod *corev1.Pod) int64 {
	var running, initMax int64
	for _, c := range pod.Spec.Containers {
		q := c.Resources.Limits[corev1.ResourceMemory]
		if q.Sign() <= 0 {
			return 0
		}
		running += q.Value()
	}
	for _, c := range pod.Spec.InitContainers {
		q := c.Resources.Limits[corev1.ResourceMemory]
		if q.Sign() <= 0 {
			return 0
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			running += q.Value() // a sidecar runs beside the containers
		} else {
			initMax = max(initMax, q.Value())
		}
	}
	overhead := pod.Spec.Overhead[corev1.ResourceMemory]
	return max(running, initMax) + overhead.Value()
}

// mountTmpfs mounts a tmpfs on dir unless one is mounted there already.
func mountTmpfs(dir string, size int64, flags uintptr, data string) error {
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	if size > 0 {
		if data != "" {
			data += ","
		}
		data += "size=" + strconv.FormatInt(size, 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether something is mounted on dir: a mount root
// is on another device than its parent. (Enough for the tmpfs mounts the
// volume manager makes, and cheaper than reading every host mount.)
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, &fs.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, &fs.PathError{Op: "lstat", Path: filepath.Dir(dir), Err: err}
	}
	return st.Dev != parent.Dev, nil
}

// hostPathTypes names what each hostPath type expects, for errors.
var hostPathTypes = map[corev1.HostPathType]string{
	corev1.HostPathDirectoryOrCreate: "a directory",
	corev1.HostPathDirectory:         "a directory",
	corev1.HostPathFileOrCreate:      "a file",
	corev1.HostPathFile:              "a file",
	corev1.HostPathSocket:            "a socket",
	corev1.HostPathCharDev:           "a character device",
	corev1.HostPathBlockDev:          "a block device",
}

// checkHostPath checks (or, for the OrCreate types, makes) what a hostPath
// volume's type asks for at p, following symlinks, as Kubernetes.
func checkHostPath(p string, t corev1.HostPathType) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("hostPath %q: must be an absolute path", p)
	}
	if t == corev1.HostPathUnset {
		// No check, as Kubernetes; a missing path is made a directory, as
		// Docker and containerd do when they bind-mount it.
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: create directory: %w", p, err)
			}
		}
		return nil
	}
	want, known := hostPathTypes[t]
	if !known {
		return fmt.Errorf("hostPath %s: unknown type %q", p, t)
	}
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		switch t {
		case corev1.HostPathDirectoryOrCreate:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: create directory: %w", p, err)
			}
			return os.Chmod(p, 0o755)
		case corev1.HostPathFileOrCreate:
			// The parent is not made, as Kubernetes.
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath %s: create file: %w", p, err)
			}
			f.Close()
			return os.Chmod(p, 0o644)
		}
		return fmt.Errorf("hostPath type check failed: %s does not exist, want %s (type %s)", p, want, t)
	}
	if err != nil {
		return fmt.Errorf("hostPath %s: %w", p, err)
	}
	mode := info.Mode()
	var ok bool
	switch t {
	case corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory:
		ok = mode.IsDir()
	case corev1.HostPathFileOrCreate, corev1.HostPathFile:
		ok = mode.IsRegular()
	case corev1.HostPathSocket:
		ok = mode&fs.ModeSocket != 0
	case corev1.HostPathCharDev:
		ok = mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice != 0
	case corev1.HostPathBlockDev:
		ok = mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice == 0
	}
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not %s (type %s)", p, want, t)
	}
	return nil
}

// fileMode is an item's mode, else the volume's defaultMode, else 0644.
func fileMode(item, def *int32) fs.FileMode {
	switch {
	case item != nil:
		return fs.FileMode(*item) & fs.ModePerm
	case def != nil:
		return fs.FileMode(*def) & fs.ModePerm
	}
	return defaultFileMode
}

func addFile(files map[string]fileProjection, p string, data []byte, mode fs.FileMode) error {
	if _, dup := files[p]; dup {
		return fmt.Errorf("two files at path %q", p)
	}
	files[p] = fileProjection{Data: data, Mode: mode}
	return nil
}

// configMapFiles adds a ConfigMap's keys (data and binaryData) as files:
// each key at its own name, or only the items, each at its path.
func configMapFiles(ctx context.Context, objs *objectCache, name string, items []corev1.KeyToPath, defaultMode *int32, optional bool, files map[string]fileProjection) error {
	cm, err := objs.configMap(ctx, name, optional)
	if err != nil || cm == nil {
		return err
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, defaultMode, optional, "configmap references non-existent config key: ", files)
}

// secretFiles is configMapFiles for a Secret.
func secretFiles(ctx context.Context, objs *objectCache, name string, items []corev1.KeyToPath, defaultMode *int32, optional bool, files map[string]fileProjection) error {
	s, err := objs.secret(ctx, name, optional)
	if err != nil || s == nil {
		return err
	}
	return keyFiles(s.Data, items, defaultMode, optional, "references non-existent secret key: ", files)
}

// keyFiles adds data's keys as files. A missing item key is skipped when
// optional and is a *configError (Kubernetes' message, missing prefixed)
// otherwise.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool, missing string, files map[string]fileProjection) error {
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			if err := addFile(files, k, data[k], fileMode(nil, defaultMode)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return &configError{msg: missing + it.Key}
		}
		if err := addFile(files, it.Path, v, fileMode(it.Mode, defaultMode)); err != nil {
			return err
		}
	}
	return nil
}

// downwardAPIFiles adds a downwardAPI volume's files.
func downwardAPIFiles(pod *corev1.Pod, f podFacts, items []corev1.DownwardAPIVolumeFile, defaultMode *int32, files map[string]fileProjection) error {
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = podFieldValue(pod, f, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			val, err = resourceFieldValue(pod, nil, it.ResourceFieldRef, f.NodeAllocatable)
		default:
			err = errors.New("neither fieldRef nor resourceFieldRef is set")
		}
		if err != nil {
			return fmt.Errorf("file %q: %w", it.Path, err)
		}
		if err := addFile(files, it.Path, []byte(val), fileMode(it.Mode, defaultMode)); err != nil {
			return err
		}
	}
	return nil
}

// projectedFiles adds a projected volume's sources. serviceAccountToken
// sources are skipped (Shepherd issues no tokens), logged when the volume
// is first set up.
func (m *volumeManager) projectedFiles(ctx context.Context, objs *objectCache, pod *corev1.Pod, f podFacts, volume string, p *corev1.ProjectedVolumeSource, first bool, files map[string]fileProjection) error {
	for _, s := range p.Sources {
		var err error
		switch {
		case s.ConfigMap != nil:
			err = configMapFiles(ctx, objs, s.ConfigMap.Name, s.ConfigMap.Items, p.DefaultMode, isOptional(s.ConfigMap.Optional), files)
		case s.Secret != nil:
			err = secretFiles(ctx, objs, s.Secret.Name, s.Secret.Items, p.DefaultMode, isOptional(s.Secret.Optional), files)
		case s.DownwardAPI != nil:
			err = downwardAPIFiles(pod, f, s.DownwardAPI.Items, p.DefaultMode, files)
		case s.ServiceAccountToken != nil:
			if first {
				m.log().Info("projected volume: serviceAccountToken source skipped: Shepherd's kubelet issues no service account tokens",
					"pod", pod.Namespace+"/"+pod.Name, "volume", volume, "path", s.ServiceAccountToken.Path)
			}
		case s.ClusterTrustBundle != nil:
			err = fmt.Errorf("%w (projected source clusterTrustBundle)", errVolumeUnsupported)
		case s.PodCertificate != nil:
			err = fmt.Errorf("%w (projected source podCertificate)", errVolumeUnsupported)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Teardown unmounts what Setup mounted and removes the pod's directory
// (with everything else in it). It does nothing for a pod it has no
// directory for, and removes nothing while anything stays mounted below
// the directory.
func (m *volumeManager) Teardown(uid types.UID) error {
	dir, err := m.podDir(uid)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unmountBelow(dir); err != nil {
		return fmt.Errorf("pod %s volumes: %w", uid, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pod %s volumes: %w", uid, err)
	}
	return nil
}

// unmountBelow unmounts every mount on dir or below it, deepest first,
// until /proc/self/mountinfo shows none (mounts may be stacked).
func unmountBelow(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for round := 0; ; round++ {
		mounts, err := mountinfo.Read("/proc/self/mountinfo")
		if err != nil {
			return err
		}
		var below []string
		for _, mt := range mounts {
			if mt.Point == real || strings.HasPrefix(mt.Point, real+"/") {
				below = append(below, mt.Point)
			}
		}
		if len(below) == 0 {
			return nil
		}
		if round == 8 {
			return fmt.Errorf("still mounted after unmounting: %s", strings.Join(below, ", "))
		}
		slices.SortFunc(below, func(a, b string) int { return len(b) - len(a) })
		for _, p := range below {
			err := unix.Unmount(p, 0)
			if errors.Is(err, unix.EBUSY) {
				err = unix.Unmount(p, unix.MNT_DETACH)
			}
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmount %s: %w", p, err)
			}
		}
	}
}

// PodUIDs lists the pod UIDs that have a directory under Root, so pods
// that vanished while the kubelet was down can be cleaned up.
func (m *volumeManager) PodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(m.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var uids []types.UID
	for _, e := range entries {
		if e.IsDir() {
			uids = append(uids, types.UID(e.Name()))
		}
	}
	return uids, nil
}

// containerMounts turns a container's volumeMounts into runtime mounts.
// Source is the volume's host path from paths (Setup's result), or for a
// subPath (or subPathExpr, expanded with the container's env; a variable
// that is unset or empty is an error, as Kubernetes) the path below it,
// made as a directory with the volume's mode when missing and never
// outside the volume: a subPath with "..", or one that leads out through
// a symlink, is refused. Mounts of configMap, secret, downwardAPI and
// projected volumes are always read-only, as Kubernetes.
//
// The mounts are ordered by destination depth, parents first (the runtime
// mounts in order, so /data must come before /data/cache).
//
// A subPath is resolved to a real path now; the runtime mounts it later by
// that path. A container that can write to the volume could swap a
// directory on that path for a symlink in between; Kubernetes closes that
// window by bind-mounting an open file descriptor, which a runtime in
// another process cannot take.
func containerMounts(pod *corev1.Pod, c *corev1.Container, paths map[string]string, env []string) ([]container.Mount, error) {
	volumes := make(map[string]*corev1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		volumes[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var vars map[string]string
	out := make([]container.Mount, 0, len(c.VolumeMounts))
	for _, vm := range c.VolumeMounts {
		v := volumes[vm.Name]
		if v == nil {
			return nil, fmt.Errorf("volumeMount %q: the pod has no volume of that name", vm.Name)
		}
		src, ok := paths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: the volume is not set up", vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			if vars == nil {
				vars = envMap(env)
			}
			var err error
			if sub, err = expandSubPath(vm.SubPathExpr, vars); err != nil {
				return nil, fmt.Errorf("volumeMount %q: subPathExpr %q: %w", vm.Name, vm.SubPathExpr, err)
			}
		}
		if sub != "" {
			var err error
			if src, err = subPathSource(src, sub); err != nil {
				return nil, fmt.Errorf("volumeMount %q: %w", vm.Name, err)
			}
		}
		dest := vm.MountPath
		if !path.IsAbs(dest) {
			dest = "/" + dest // as Kubernetes' kubelet
		}
		readOnly := v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
		out = append(out, container.Mount{
			Destination: path.Clean(dest),
			Source:      src,
			Type:        "bind",
			ReadOnly:    vm.ReadOnly || readOnly,
		})
	}
	slices.SortStableFunc(out, func(a, b container.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	return out, nil
}

// expandSubPath expands a subPathExpr; every variable it names must be
// set and not empty.
func expandSubPath(expr string, vars map[string]string) (string, error) {
	var missing []string
	out := expandVars(expr, func(name string) (string, bool) {
		v := vars[name]
		if v == "" && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v, true
	})
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", fmt.Errorf("missing value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// resolveBeneath opens rel below the directory rootFd, following symlinks
// only while they stay below it.
func resolveBeneath(rootFd int, rel string, flags uint64) (int, error) {
	return unix.Openat2(rootFd, rel, &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// subPathSource is the real host path of sub below the volume root,
// making missing directories on the way with the root's permissions.
func subPathSource(root, sub string) (string, error) {
	if path.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q: must be a relative path", sub)
	}
	for _, c := range strings.Split(sub, "/") {
		if c == ".." {
			return "", fmt.Errorf("subPath %q: must not contain '..'", sub)
		}
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open volume", Path: root, Err: err}
	}
	defer unix.Close(rootFd)
	var st unix.Stat_t
	if err := unix.Fstat(rootFd, &st); err != nil {
		return "", &fs.PathError{Op: "stat volume", Path: root, Err: err}
	}
	perm := st.Mode & 0o777
	escapes := func(err error) bool { return errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) }

	clean := path.Clean(sub)
	fd, err := unix.Dup(rootFd)
	if err != nil {
		return "", err
	}
	defer func() { unix.Close(fd) }()
	if clean != "." {
		elems := strings.Split(clean, "/")
		for i := range elems {
			prefix := strings.Join(elems[:i+1], "/")
			next, err := resolveBeneath(rootFd, prefix, unix.O_PATH)
			if errors.Is(err, unix.ENOENT) {
				// fd is the parent, resolved below the root.
				if err := unix.Mkdirat(fd, elems[i], perm); err != nil && !errors.Is(err, unix.EEXIST) {
					return "", fmt.Errorf("subPath %q: create %s: %w", sub, prefix, err)
				}
				next, err = resolveBeneath(rootFd, prefix, unix.O_RDONLY|unix.O_DIRECTORY)
				if err == nil {
					if err = unix.Fchmod(next, perm); err != nil {
						unix.Close(next)
					}
				}
			}
			if escapes(err) {
				return "", fmt.Errorf("subPath %q: leads outside the volume", sub)
			}
			if errors.Is(err, unix.ENOSYS) {
				return "", fmt.Errorf("subPath %q: needs openat2 (Linux 5.6 or later)", sub)
			}
			if err != nil {
				return "", fmt.Errorf("subPath %q: %s: %w", sub, prefix, err)
			}
			unix.Close(fd)
			fd = next
		}
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	realRoot, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(rootFd))
	if err != nil {
		return "", err
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+"/") {
		return "", fmt.Errorf("subPath %q: leads outside the volume", sub) // not reached: resolution stays beneath
	}
	return real, nil
}
