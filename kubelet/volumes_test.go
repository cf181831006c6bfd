package kubelet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"golang.org/x/sys/unix"

	"github.com/shepherd-lab/shepherd/internal/mountinfo"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/storage"
)

// requireMounts skips tests that mount tmpfs file systems.
func requireMounts(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting tmpfs volumes needs root")
	}
}

// newTestVolumes is a volume manager over a fresh root; every pod it set
// up is torn down when the test ends (unmounting its tmpfs mounts), even
// when the test fails.
func newTestVolumes(t *testing.T, get objectGetter) *volumeManager {
	t.Helper()
	m := &volumeManager{Root: filepath.Join(t.TempDir(), "pods"), Get: get}
	t.Cleanup(func() {
		uids, _ := m.PodUIDs()
		for _, uid := range uids {
			if err := m.Teardown(uid); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if root, err := filepath.EvalSymlinks(filepath.Dir(m.Root)); err == nil {
			if left := mountsBelow(t, root); len(left) > 0 {
				t.Errorf("cleanup: still mounted: %v", left)
			}
		}
	})
	return m
}

// mountsBelow lists the mount points on dir or below it.
func mountsBelow(t *testing.T, dir string) []string {
	t.Helper()
	ms, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}

func isTmpfs(t *testing.T, dir string) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.TMPFS_MAGIC && mounted
}

func volumeTestPod(uid types.UID, volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "ns", UID: uid,
			Labels:      map[string]string{"app": "web", "tier": "front", "quote": `a"b`},
			Annotations: map[string]string{"kubernetes.io/config.source": "api"},
		},
		Spec: corev1.PodSpec{
			Volumes: volumes,
			Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
			}}},
		},
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkFile(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != content {
		t.Errorf("%s: content %q, want %q", p, got, content)
	}
	if info.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), mode)
	}
}

func configMapVolume(name, cm string, items []corev1.KeyToPath, defaultMode *int32, optional bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Items: items, DefaultMode: defaultMode, Optional: ptr.To(optional)}}}
}

func TestVolumeConfigMap(t *testing.T) {
	get := &fakeObjectGetter{configMaps: map[string]*corev1.ConfigMap{
		"ns/cfg": {Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"bin": {0, 1, 2}}},
	}}
	m := newTestVolumes(t, get)
	pod := volumeTestPod("uid-cm",
		configMapVolume("all", "cfg", nil, ptr.To[int32](0o600), false),
		configMapVolume("items", "cfg", []corev1.KeyToPath{
			{Key: "a", Path: "sub/dir/x", Mode: ptr.To[int32](0o400)},
			{Key: "b", Path: "y"},
		}, nil, false),
		configMapVolume("optional-missing", "nope", nil, nil, true),
		configMapVolume("optional-key", "cfg", []corev1.KeyToPath{{Key: "a", Path: "a"}, {Key: "zz", Path: "zz"}}, nil, true),
	)
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	all := paths["all"]
	if want := filepath.Join(m.Root, "uid-cm", "volumes", "kubernetes.io~configmap", "all"); all != want {
		t.Errorf("path %s, want %s", all, want)
	}
	checkFile(t, filepath.Join(all, "a"), "1", 0o600)
	checkFile(t, filepath.Join(all, "b"), "2", 0o600)
	checkFile(t, filepath.Join(all, "bin"), "\x00\x01\x02", 0o600)
	if target, err := os.Readlink(filepath.Join(all, "a")); err != nil || target != "..data/a" {
		t.Errorf("a: link %q, %v; want a link to ..data/a", target, err)
	}

	items := paths["items"]
	checkFile(t, filepath.Join(items, "sub/dir/x"), "1", 0o400)
	checkFile(t, filepath.Join(items, "y"), "2", 0o644)
	if target, err := os.Readlink(filepath.Join(items, "sub")); err != nil || target != "..data/sub" {
		t.Errorf("sub: link %q, %v; want a link to ..data/sub", target, err)
	}
	if _, err := os.Lstat(filepath.Join(items, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key not among the items was projected: %v", err)
	}

	if names := dirNames(t, paths["optional-missing"]); !slices.Equal(names, []string{".."}) {
		t.Errorf("optional missing configMap: entries %v, want only ..data and its generation", names)
	}
	checkFile(t, filepath.Join(paths["optional-key"], "a"), "1", 0o644)
	if _, err := os.Lstat(filepath.Join(paths["optional-key"], "zz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("optional missing key was projected: %v", err)
	}
}

// dirNames lists dir's entries, each name starting with ".." as "..".
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") {
			n = ".."
		}
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

func TestVolumeConfigErrors(t *testing.T) {
	get := &fakeObjectGetter{
		configMaps: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"a": "1"}}},
		secrets:    map[string]*corev1.Secret{"ns/s": {Data: map[string][]byte{"a": []byte("1")}}},
	}
	tests := []struct {
		vol      corev1.Volume
		want     string
		notFound bool
	}{
		{configMapVolume("v", "nope", nil, nil, false), `volume "v": configmap "nope" not found`, true},
		{configMapVolume("v", "cfg", []corev1.KeyToPath{{Key: "zz", Path: "zz"}}, nil, false), `volume "v": configmap references non-existent config key: zz`, false},
		{corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope"}}},
			`volume "v": secret "nope" not found`, true},
		{corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", Items: []corev1.KeyToPath{{Key: "zz", Path: "zz"}}}}},
			`volume "v": references non-existent secret key: zz`, false},
		{corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}}}},
			`volume "v": configmap "nope" not found`, true},
	}
	for _, tt := range tests {
		m := &volumeManager{Root: t.TempDir(), Get: get}
		_, err := m.Setup(context.Background(), volumeTestPod("uid", tt.vol), podFacts{})
		var ce *configError
		if !errors.As(err, &ce) || err.Error() != tt.want || errors.Is(err, storage.ErrNotFound) != tt.notFound {
			t.Errorf("error %v, want a *configError %q (not found: %v)", err, tt.want, tt.notFound)
		}
		if _, err := os.Lstat(filepath.Join(m.Root, "uid", "volumes", "kubernetes.io~configmap", "v")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a volume that failed was made: %v", err)
		}
	}
}

func TestVolumeSecretOnTmpfs(t *testing.T) {
	requireMounts(t)
	get := &fakeObjectGetter{secrets: map[string]*corev1.Secret{
		"ns/creds": {Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("hunter2")}},
	}}
	m := newTestVolumes(t, get)
	pod := volumeTestPod("uid-secret", corev1.Volume{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "creds", DefaultMode: ptr.To[int32](0o440),
		Items: []corev1.KeyToPath{{Key: "pass", Path: "password"}, {Key: "user", Path: "username", Mode: ptr.To[int32](0o444)}},
	}}})
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["creds"]
	if !isTmpfs(t, dir) {
		t.Errorf("%s: not a tmpfs mount", dir)
	}
	checkFile(t, filepath.Join(dir, "password"), "hunter2", 0o440)
	checkFile(t, filepath.Join(dir, "username"), "admin", 0o444)
	// A second Setup neither mounts again nor rewrites.
	gen, _ := os.Readlink(filepath.Join(dir, dataLink))
	if _, err := m.Setup(context.Background(), pod, podFacts{}); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if n := len(mountsBelow(t, real)); n != 1 {
		t.Errorf("%d mounts on %s after a second Setup, want 1", n, dir)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again != gen {
		t.Errorf("unchanged secret rewritten: ..data %s, then %s", gen, again)
	}
}

func TestVolumeUpdateInPlace(t *testing.T) {
	get := &fakeObjectGetter{configMaps: map[string]*corev1.ConfigMap{
		"ns/cfg": {Data: map[string]string{"keep": "v1", "gone": "soon"}},
	}}
	m := newTestVolumes(t, get)
	pod := volumeTestPod("uid-update", configMapVolume("cfg", "cfg", nil, nil, false))
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cfg"]
	var before unix.Stat_t
	if err := unix.Stat(dir, &before); err != nil {
		t.Fatal(err)
	}
	oldGen, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil {
		t.Fatal(err)
	}
	// A reader holding the old file keeps its content.
	held, err := os.Open(filepath.Join(dir, "keep"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	get.configMaps["ns/cfg"] = &corev1.ConfigMap{Data: map[string]string{"keep": "v2", "new": "hello"}}
	if paths, err = m.Setup(context.Background(), pod, podFacts{}); err != nil {
		t.Fatal(err)
	}
	if paths["cfg"] != dir {
		t.Fatalf("path moved: %s, then %s", dir, paths["cfg"])
	}
	var after unix.Stat_t
	if err := unix.Stat(dir, &after); err != nil {
		t.Fatal(err)
	}
	if after.Ino != before.Ino {
		t.Errorf("the volume directory was replaced (inode %d, then %d): containers' bind mounts would keep the old one", before.Ino, after.Ino)
	}
	newGen, _ := os.Readlink(filepath.Join(dir, dataLink))
	if newGen == oldGen || !isGenerationName(newGen) {
		t.Errorf("..data: %q, then %q; want a new generation", oldGen, newGen)
	}
	if _, err := os.Lstat(filepath.Join(dir, oldGen)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old generation %s not removed: %v", oldGen, err)
	}
	checkFile(t, filepath.Join(dir, "keep"), "v2", 0o644)
	checkFile(t, filepath.Join(dir, "new"), "hello", 0o644)
	if _, err := os.Lstat(filepath.Join(dir, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed key still linked: %v", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"..", "keep", "new"}) {
		t.Errorf("entries %v", names)
	}
	if b, err := io.ReadAll(held); err != nil || string(b) != "v1" {
		t.Errorf("a file open before the update reads %q, %v; want the old content", b, err)
	}

	// Only a mode changes: a new generation too.
	pod.Spec.Volumes[0].ConfigMap.DefaultMode = ptr.To[int32](0o400)
	if _, err := m.Setup(context.Background(), pod, podFacts{}); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(dir, "keep"), "v2", 0o400)
}

func TestAtomicWriterReaders(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 10
	a := bytes.Repeat([]byte("a"), size)
	b := bytes.Repeat([]byte("b"), size)
	payload := func(d []byte) map[string]fileProjection {
		return map[string]fileProjection{"key": {Data: d, Mode: 0o644}, "dir/nested": {Data: d, Mode: 0o644}}
	}
	if _, err := writeAtomic(dir, payload(a), nil); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var reads, missing atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				for _, name := range []string{"key", "dir/nested"} {
					got, err := os.ReadFile(filepath.Join(dir, name))
					if errors.Is(err, fs.ErrNotExist) {
						// Resolved ..data to the generation being removed.
						missing.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
						t.Errorf("%s: read %d bytes mixing or cutting the two versions", name, len(got))
						return
					}
					reads.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		d := a
		if i%2 == 0 {
			d = b
		}
		changed, err := writeAtomic(dir, payload(d), nil)
		if err != nil || !changed {
			t.Errorf("update %d: changed %v, %v", i, changed, err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("no reader got any content")
	}
	t.Logf("%d complete reads, %d ENOENT in the swap window", reads.Load(), missing.Load())
	if gens := generations(t, dir); len(gens) != 1 {
		t.Errorf("generations left: %v, want one", gens)
	}
}

func generations(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if isGenerationName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestAtomicWriterPaths(t *testing.T) {
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "..data", "..2024_01_01", "a//b", "a/./b", "a/", "./a"} {
		dir := t.TempDir()
		if _, err := writeAtomic(dir, map[string]fileProjection{p: {Data: []byte("x"), Mode: 0o644}}, nil); err == nil {
			t.Errorf("path %q accepted", p)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("path %q: wrote %d entries", p, len(entries))
		}
	}
	if _, err := writeAtomic(t.TempDir(), map[string]fileProjection{"a": {}, "a/b": {}}, nil); err == nil {
		t.Error("a path that is a file and a directory accepted")
	}
	// Crash leftovers (a generation nothing points to, a temporary link)
	// go on the next write; directories not of the layout stay.
	dir := t.TempDir()
	if _, err := writeAtomic(dir, map[string]fileProjection{"k": {Data: []byte("1"), Mode: 0o644}}, nil); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "..2001_01_01_00_00_00.123"), 0o755)
	os.Symlink("nowhere", filepath.Join(dir, dataLinkTmp))
	os.Mkdir(filepath.Join(dir, "subpath-dir"), 0o755)
	if _, err := writeAtomic(dir, map[string]fileProjection{"k": {Data: []byte("2"), Mode: 0o644}}, nil); err != nil {
		t.Fatal(err)
	}
	if gens := generations(t, dir); len(gens) != 1 {
		t.Errorf("generations left: %v", gens)
	}
	if _, err := os.Lstat(filepath.Join(dir, dataLinkTmp)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left: %v", dataLinkTmp, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "subpath-dir")); err != nil {
		t.Errorf("a directory the writer did not make was removed: %v", err)
	}
}

func TestVolumeEmptyDir(t *testing.T) {
	requireMounts(t)
	m := newTestVolumes(t, &fakeObjectGetter{})
	memory := func(name string, sizeLimit string) corev1.Volume {
		ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if sizeLimit != "" {
			ed.SizeLimit = ptr.To(resource.MustParse(sizeLimit))
		}
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: ed}}
	}
	// The pod's one container is limited to 64Mi.
	pod := volumeTestPod("uid-empty",
		corev1.Volume{Name: "disk", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		memory("mem", "1Mi"),
		memory("mem-pod-limit", ""),
		memory("mem-above-pod-limit", "1Gi"),
	)
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	disk := paths["disk"]
	if want := filepath.Join(m.Root, "uid-empty", "volumes", "kubernetes.io~empty-dir", "disk"); disk != want {
		t.Errorf("path %s, want %s", disk, want)
	}
	if info, err := os.Stat(disk); err != nil || info.Mode().Perm() != 0o777 {
		t.Errorf("disk emptyDir: %v, %v; want a directory with mode 0777", info, err)
	}
	if mounted, _ := isMountPoint(disk); mounted {
		t.Error("disk emptyDir is a mount")
	}
	tmpfsSize := func(dir string) int64 {
		t.Helper()
		if !isTmpfs(t, dir) {
			t.Fatalf("%s: not a tmpfs", dir)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Blocks) * st.Bsize
	}
	for name, want := range map[string]int64{"mem": 1 << 20, "mem-pod-limit": 64 << 20, "mem-above-pod-limit": 64 << 20} {
		if got := tmpfsSize(paths[name]); got != want {
			t.Errorf("%s: %d bytes, want %d", name, got, want)
		}
	}
	// No pod limit: the node's allocatable memory bounds the volume.
	unlimited := volumeTestPod("uid-unlimited", memory("mem", ""))
	unlimited.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
	p2, err := m.Setup(context.Background(), unlimited, podFacts{NodeAllocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpfsSize(p2["mem"]); got != 32<<20 {
		t.Errorf("no limits: %d bytes, want the node's allocatable 32Mi", got)
	}

	// A file written before a resync is still there after it: Setup does
	// not mount again on top.
	mem := paths["mem"]
	if err := os.WriteFile(filepath.Join(mem, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(context.Background(), pod, podFacts{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(mem, "f")); got != "x" {
		t.Errorf("after a second Setup: %q", got)
	}

	huge := volumeTestPod("uid-huge", corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumHugePages}}})
	if _, err := m.Setup(context.Background(), huge, podFacts{}); !errors.Is(err, errVolumeUnsupported) {
		t.Errorf("hugepages emptyDir: %v, want errVolumeUnsupported", err)
	}
}

func TestVolumePodMemoryLimit(t *testing.T) {
	limit := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}}
	}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want int64
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{{Resources: limit("64Mi")}, {Resources: limit("32Mi")}}}, 96 << 20},
		{"one container without a limit", corev1.PodSpec{Containers: []corev1.Container{{Resources: limit("64Mi")}, {}}}, 0},
		{"a larger init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Resources: limit("128Mi")}},
			Containers:     []corev1.Container{{Resources: limit("64Mi")}}}, 128 << 20},
		{"a sidecar runs beside", corev1.PodSpec{
			InitContainers: []corev1.Container{{Resources: limit("16Mi"), RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
			Containers:     []corev1.Container{{Resources: limit("64Mi")}}}, 80 << 20},
		{"overhead", corev1.PodSpec{
			Overhead:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")},
			Containers: []corev1.Container{{Resources: limit("64Mi")}}}, 65 << 20},
	}
	for _, tt := range tests {
		if got := podMemoryLimit(&corev1.Pod{Spec: tt.spec}); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestVolumeHostPath(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "dir")
	file := filepath.Join(base, "file")
	sock := filepath.Join(base, "sock")
	block := filepath.Join(base, "block")
	os.Mkdir(dir, 0o700)
	os.WriteFile(file, nil, 0o600)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Making a device node needs CAP_MKNOD: without it the block device
	// cases are skipped.
	haveBlock := unix.Mknod(block, unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200))) == nil
	if !haveBlock {
		t.Log("no block device node: skipping the BlockDevice cases")
	}

	tests := []struct {
		path string
		typ  corev1.HostPathType
		want string // "" = no error, else a part of the error
	}{
		{filepath.Join(base, "unset-new"), corev1.HostPathUnset, ""},
		{file, corev1.HostPathUnset, ""},
		{dir, corev1.HostPathDirectory, ""},
		{file, corev1.HostPathDirectory, file + " is not a directory (type Directory)"},
		{filepath.Join(base, "none"), corev1.HostPathDirectory, filepath.Join(base, "none") + " does not exist, want a directory (type Directory)"},
		{filepath.Join(base, "new/deep"), corev1.HostPathDirectoryOrCreate, ""},
		{dir, corev1.HostPathDirectoryOrCreate, ""},
		{file, corev1.HostPathDirectoryOrCreate, file + " is not a directory (type DirectoryOrCreate)"},
		{file, corev1.HostPathFile, ""},
		{dir, corev1.HostPathFile, dir + " is not a file (type File)"},
		{filepath.Join(base, "newfile"), corev1.HostPathFileOrCreate, ""},
		{filepath.Join(base, "noparent/newfile"), corev1.HostPathFileOrCreate, "no such file or directory"},
		{dir, corev1.HostPathFileOrCreate, dir + " is not a file (type FileOrCreate)"},
		{sock, corev1.HostPathSocket, ""},
		{file, corev1.HostPathSocket, file + " is not a socket (type Socket)"},
		{"/dev/null", corev1.HostPathCharDev, ""},
		{file, corev1.HostPathCharDev, file + " is not a character device (type CharDevice)"},
		{"/dev/null", corev1.HostPathBlockDev, "/dev/null is not a block device (type BlockDevice)"},
		{block, corev1.HostPathBlockDev, ""},
		{block, corev1.HostPathCharDev, block + " is not a character device"},
		{"relative/path", corev1.HostPathUnset, "must be an absolute path"},
		{dir, "Fifo", "unknown type"},
	}
	for _, tt := range tests {
		if tt.path == block && !haveBlock {
			continue
		}
		m := &volumeManager{Root: t.TempDir()}
		pod := volumeTestPod("uid", corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: tt.path, Type: ptr.To(tt.typ)}}})
		paths, err := m.Setup(context.Background(), pod, podFacts{})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %q: %v", tt.path, tt.typ, err)
		case tt.want == "" && paths["h"] != tt.path:
			t.Errorf("%s %q: path %q", tt.path, tt.typ, paths["h"])
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), `volume "h": `)):
			t.Errorf("%s %q: error %v, want one with %q", tt.path, tt.typ, err, tt.want)
		}
	}
	for p, want := range map[string]fs.FileMode{
		filepath.Join(base, "new/deep"):  fs.ModeDir | 0o755,
		filepath.Join(base, "newfile"):   0o644,
		filepath.Join(base, "unset-new"): fs.ModeDir | 0o755,
	} {
		if info, err := os.Stat(p); err != nil || info.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, info, err, want)
		}
	}
}

func TestVolumeDownwardAPI(t *testing.T) {
	requireMounts(t)
	m := newTestVolumes(t, &fakeObjectGetter{})
	field := func(p string) *corev1.ObjectFieldSelector {
		return &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: p}
	}
	pod := volumeTestPod("uid-downward", corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		DefaultMode: ptr.To[int32](0o444),
		Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: field("metadata.labels")},
			{Path: "annotations", FieldRef: field("metadata.annotations")},
			{Path: "meta/name", FieldRef: field("metadata.name"), Mode: ptr.To[int32](0o400)},
			{Path: "meta/namespace", FieldRef: field("metadata.namespace")},
			{Path: "meta/uid", FieldRef: field("metadata.uid")},
			{Path: "app", FieldRef: field("metadata.labels['app']")},
			{Path: "mem_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
			{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}},
		},
	}}})
	facts := podFacts{NodeAllocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
	paths, err := m.Setup(context.Background(), pod, facts)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["info"]
	if !isTmpfs(t, dir) {
		t.Errorf("%s: not a tmpfs", dir)
	}
	checkFile(t, filepath.Join(dir, "labels"), "app=\"web\"\nquote=\"a\\\"b\"\ntier=\"front\"", 0o444)
	checkFile(t, filepath.Join(dir, "annotations"), `kubernetes.io/config.source="api"`, 0o444)
	checkFile(t, filepath.Join(dir, "meta/name"), "web-0", 0o400)
	checkFile(t, filepath.Join(dir, "meta/namespace"), "ns", 0o444)
	checkFile(t, filepath.Join(dir, "meta/uid"), "uid-downward", 0o444)
	checkFile(t, filepath.Join(dir, "app"), "web", 0o444)
	checkFile(t, filepath.Join(dir, "mem_limit"), "64", 0o444)
	checkFile(t, filepath.Join(dir, "cpu_limit"), "2000", 0o444)

	// Labels change: the files follow on the next Setup.
	pod.Labels = map[string]string{"app": "api"}
	if _, err := m.Setup(context.Background(), pod, facts); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(dir, "labels"), `app="api"`, 0o444)
	checkFile(t, filepath.Join(dir, "app"), "api", 0o444)
}

func TestVolumeProjected(t *testing.T) {
	requireMounts(t)
	get := &fakeObjectGetter{
		configMaps: map[string]*corev1.ConfigMap{"ns/kube-root-ca.crt": {Data: map[string]string{"ca.crt": "CERT"}}},
		secrets:    map[string]*corev1.Secret{"ns/s": {Data: map[string][]byte{"token": []byte("T")}}},
	}
	m := newTestVolumes(t, get)
	pod := volumeTestPod("uid-projected", corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o640),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"},
				Items: []corev1.KeyToPath{{Key: "token", Path: "secret/token", Mode: ptr.To[int32](0o600)}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}})
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["kube-api-access"]
	if !isTmpfs(t, dir) {
		t.Errorf("%s: not a tmpfs", dir)
	}
	checkFile(t, filepath.Join(dir, "ca.crt"), "CERT", 0o640)
	checkFile(t, filepath.Join(dir, "secret/token"), "T", 0o600)
	checkFile(t, filepath.Join(dir, "namespace"), "ns", 0o640)
	if _, err := os.Lstat(filepath.Join(dir, "token")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serviceAccountToken: %v, want no file", err)
	}

	bundle := volumeTestPod("uid-bundle", corev1.Volume{Name: "b", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "b.pem"}}}}}})
	if _, err := m.Setup(context.Background(), bundle, podFacts{}); !errors.Is(err, errVolumeUnsupported) {
		t.Errorf("clusterTrustBundle: %v, want errVolumeUnsupported", err)
	}
}

func TestVolumeUnsupported(t *testing.T) {
	m := &volumeManager{Root: t.TempDir()}
	pod := volumeTestPod("uid",
		corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
		corev1.Volume{Name: "share", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nas", Path: "/export"}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	)
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if !errors.Is(err, errVolumeUnsupported) {
		t.Fatalf("error %v, want errVolumeUnsupported", err)
	}
	for _, want := range []string{
		`volume "data": type not supported by Shepherd's kubelet (persistentVolumeClaim)`,
		`volume "share": type not supported by Shepherd's kubelet (nfs)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, ok := paths["scratch"]; !ok || len(paths) != 1 {
		t.Errorf("paths %v: want the supported volume set up all the same", paths)
	}
}

func TestVolumeTeardown(t *testing.T) {
	requireMounts(t)
	get := &fakeObjectGetter{
		configMaps: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"a": "1"}}},
		secrets:    map[string]*corev1.Secret{"ns/s": {Data: map[string][]byte{"a": []byte("1")}}},
	}
	m := newTestVolumes(t, get)
	pod := volumeTestPod("uid-teardown",
		configMapVolume("cfg", "cfg", nil, nil, false),
		corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
		corev1.Volume{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}}}},
	)
	if _, err := m.Setup(context.Background(), pod, podFacts{}); err != nil {
		t.Fatal(err)
	}
	podDir, _ := filepath.EvalSymlinks(filepath.Join(m.Root, "uid-teardown"))
	if n := len(mountsBelow(t, podDir)); n != 3 {
		t.Errorf("%d mounts below the pod directory, want 3 (secret, memory emptyDir, downwardAPI)", n)
	}
	// A mount stacked on one of ours (a Setup racing a restart, say).
	if err := unix.Mount("tmpfs", filepath.Join(podDir, "volumes", kindEmptyDir, "mem"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if left := mountsBelow(t, podDir); len(left) > 0 {
		t.Errorf("still mounted: %v", left)
	}
	if _, err := os.Lstat(podDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pod directory: %v, want it gone", err)
	}
	for _, uid := range []types.UID{pod.UID, "never-seen"} {
		if err := m.Teardown(uid); err != nil {
			t.Errorf("Teardown(%s): %v", uid, err)
		}
	}
	for _, uid := range []types.UID{"", "..", "a/../../b"} {
		if err := m.Teardown(uid); err == nil {
			t.Errorf("Teardown(%q) accepted", uid)
		}
	}
}

func TestVolumePodUIDs(t *testing.T) {
	m := &volumeManager{Root: filepath.Join(t.TempDir(), "pods"), Get: &fakeObjectGetter{}}
	if uids, err := m.PodUIDs(); err != nil || len(uids) != 0 {
		t.Errorf("no root yet: %v, %v", uids, err)
	}
	for _, uid := range []types.UID{"b-uid", "a-uid"} {
		pod := volumeTestPod(uid, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		if _, err := m.Setup(context.Background(), pod, podFacts{}); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(m.Root, "stray-file"), nil, 0o644)
	uids, err := m.PodUIDs()
	slices.Sort(uids)
	if err != nil || !slices.Equal(uids, []types.UID{"a-uid", "b-uid"}) {
		t.Errorf("PodUIDs: %v, %v", uids, err)
	}
	if err := m.Teardown("a-uid"); err != nil {
		t.Fatal(err)
	}
	if uids, _ := m.PodUIDs(); !slices.Equal(uids, []types.UID{"b-uid"}) {
		t.Errorf("after Teardown: %v", uids)
	}
}

func TestContainerMounts(t *testing.T) {
	get := &fakeObjectGetter{configMaps: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"app.conf": "x=1"}}}}
	m := &volumeManager{Root: t.TempDir(), Get: get}
	outside := t.TempDir()
	pod := volumeTestPod("uid-mounts",
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		configMapVolume("cfg", "cfg", nil, nil, false),
		corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: outside}}},
	)
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	scratch := paths["scratch"]
	os.Symlink("/etc", filepath.Join(scratch, "abs-out"))
	os.Symlink("../../../../..", filepath.Join(scratch, "rel-out"))
	os.Mkdir(filepath.Join(scratch, "real"), 0o700)
	os.Symlink("real", filepath.Join(scratch, "in"))
	env := []string{"POD_NAME=web-0", "EMPTY="}

	tests := []struct {
		name   string
		mounts []corev1.VolumeMount
		want   []container.Mount
		err    string
	}{{
		name: "read-only as asked, and always for configMaps; parents first; relative paths made absolute",
		mounts: []corev1.VolumeMount{
			{Name: "scratch", MountPath: "/data/cache"},
			{Name: "cfg", MountPath: "/etc/app"},
			{Name: "host", MountPath: "data", ReadOnly: true},
		},
		want: []container.Mount{
			{Destination: "/data", Source: outside, Type: "bind", ReadOnly: true},
			{Destination: "/data/cache", Source: scratch, Type: "bind"},
			{Destination: "/etc/app", Source: paths["cfg"], Type: "bind", ReadOnly: true},
		},
	}, {
		name:   "subPath made with the volume's mode",
		mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/logs", SubPath: "a/b"}},
		want:   []container.Mount{{Destination: "/logs", Source: realPath(t, scratch) + "/a/b", Type: "bind"}},
	}, {
		name:   "subPathExpr",
		mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/logs", SubPathExpr: "logs/$(POD_NAME)"}},
		want:   []container.Mount{{Destination: "/logs", Source: realPath(t, scratch) + "/logs/web-0", Type: "bind"}},
	}, {
		name:   "subPath through a symlink that stays inside",
		mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "in/y"}},
		want:   []container.Mount{{Destination: "/x", Source: realPath(t, scratch) + "/real/y", Type: "bind"}},
	}, {
		name:   "a configMap key by subPath",
		mounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/app.conf", SubPath: "app.conf"}},
		want: []container.Mount{{Destination: "/etc/app.conf", Type: "bind", ReadOnly: true,
			Source: filepath.Join(realPath(t, paths["cfg"]), mustReadlink(t, filepath.Join(paths["cfg"], dataLink)), "app.conf")}},
	}, {
		name:   "subPath on a hostPath",
		mounts: []corev1.VolumeMount{{Name: "host", MountPath: "/h", SubPath: "made"}},
		want:   []container.Mount{{Destination: "/h", Source: realPath(t, outside) + "/made", Type: "bind"}},
	},
		{name: "subPath with ..", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "../x"}}, err: `volumeMount "scratch": subPath "../x": must not contain '..'`},
		{name: "subPath with .. inside", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "a/../../x"}}, err: "must not contain '..'"},
		{name: "absolute subPath", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "/etc"}}, err: "must be a relative path"},
		{name: "absolute symlink out", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "abs-out"}}, err: `subPath "abs-out": leads outside the volume`},
		{name: "absolute symlink out, below", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "abs-out/newdir"}}, err: "leads outside the volume"},
		{name: "relative symlink out", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "rel-out/tmp"}}, err: "leads outside the volume"},
		{name: "subPathExpr with .. from the env", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPathExpr: "$(POD_NAME)/../../x"}}, err: "must not contain '..'"},
		{name: "subPathExpr variable unset or empty", mounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPathExpr: "$(NOPE)/$(EMPTY)/$(POD_NAME)"}}, err: "missing value for EMPTY, NOPE"},
		{name: "no such volume", mounts: []corev1.VolumeMount{{Name: "ghost", MountPath: "/x"}}, err: `volumeMount "ghost": the pod has no volume of that name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "app", VolumeMounts: tt.mounts}
			got, err := containerMounts(pod, &c, paths, env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("got %+v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("mounts\n got %+v\nwant %+v", got, tt.want)
			}
			for _, mt := range got {
				if _, err := os.Stat(mt.Source); err != nil {
					t.Errorf("source: %v", err)
				}
			}
		})
	}
	if info, err := os.Stat(filepath.Join(scratch, "a")); err != nil || info.Mode().Perm() != 0o777 {
		t.Errorf("subPath directory: %v, %v; want the emptyDir's mode 0777", info, err)
	}
	if _, err := os.Stat("/etc/newdir"); err == nil {
		t.Error("a subPath through a symlink made a directory outside the volume")
	}
	if _, err := containerMounts(pod, &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/x"}}},
		map[string]string{}, nil); err == nil {
		t.Error("a volume that was not set up accepted")
	}
}

func realPath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	r, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ownership is an entry's group and mode bits (permissions, setgid,
// sticky), without following a symlink.
func ownership(t *testing.T, p string) (int, fs.FileMode) {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(info.Sys().(*syscall.Stat_t).Gid), info.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky)
}

// With fsGroup, a secret, configMap, downwardAPI or projected volume is
// the group's, as Kubernetes' SetVolumeOwnership leaves it: every entry
// has the group, files gain group read (0400 → 0440), directories group
// read and search and setgid; a new emptyDir is the group's with setgid.
// Without fsGroup nothing changes hands.
func TestVolumeFSGroup(t *testing.T) {
	requireMounts(t)
	const gid = 2000
	get := &fakeObjectGetter{
		secrets:    map[string]*corev1.Secret{"ns/creds": {Data: map[string][]byte{"pass": []byte("hunter2"), "user": []byte("admin")}}},
		configMaps: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"a": "1"}}},
	}
	m := newTestVolumes(t, get)
	volumes := []corev1.Volume{
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr.To[int32](0o400),
			Items: []corev1.KeyToPath{{Key: "pass", Path: "deep/password"}, {Key: "user", Path: "username", Mode: ptr.To[int32](0o600)}}}}},
		configMapVolume("cfg", "cfg", nil, nil, false),
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{DefaultMode: ptr.To[int32](0o400),
			Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
		{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr.To[int32](0o400),
			Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "ram", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	}
	pod := volumeTestPod("uid-fsgroup", volumes...)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](gid)}
	paths, err := m.Setup(context.Background(), pod, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		mode fs.FileMode
	}{
		{"creds", 0o755 | fs.ModeSetgid},
		{"creds/..data", 0o777},
		{"creds/deep", 0o777}, // the top-level link
		{"creds/..data/deep", 0o755 | fs.ModeSetgid},
		{"creds/..data/deep/password", 0o440},
		{"creds/..data/username", 0o640},
		{"cfg/..data/a", 0o644},
		{"info/..data/name", 0o440},
		{"all/..data/pass", 0o440},
		{"all/..data/user", 0o440},
		{"scratch", 0o777 | fs.ModeSetgid},
		{"ram", 0o777 | fs.ModeSetgid | fs.ModeSticky},
	} {
		vol, rest, _ := strings.Cut(tc.path, "/")
		p := filepath.Join(paths[vol], rest)
		g, mode := ownership(t, p)
		if g != gid || mode != tc.mode {
			t.Errorf("%s: group %d mode %v, want group %d mode %v", tc.path, g, mode, gid, tc.mode)
		}
	}
	// The generation, once the group's, is not rewritten.
	gen, _ := os.Readlink(filepath.Join(paths["creds"], dataLink))
	if _, err := m.Setup(context.Background(), pod, podFacts{}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(paths["creds"], dataLink)); again != gen {
		t.Errorf("unchanged volume rewritten: ..data %s, then %s", gen, again)
	}

	plain := volumeTestPod("uid-no-fsgroup", volumes[0], volumes[4])
	paths, err = m.Setup(context.Background(), plain, podFacts{})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{
		filepath.Join(paths["creds"], "..data/deep/password"): 0o400,
		paths["scratch"]: 0o777,
	} {
		if g, mode := ownership(t, p); g != 0 || mode != want {
			t.Errorf("without fsGroup, %s: group %d mode %v, want group 0 mode %v", p, g, mode, want)
		}
	}
}
