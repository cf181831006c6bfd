package image

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

func TestPullByTagAndDigest(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	host := imagetest.Registry(t)
	ref := imagetest.Push(t, host, "library/busybox:1.36", busybox)
	s := openStore(t, Options{Insecure: []string{host}})
	ctx := testContext(t)

	img, err := s.Pull(ctx, ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantID := configID(t, busybox)
	wantTag := host + "/library/busybox:1.36"
	wantDigest := host + "/library/busybox@" + manifestDigest(t, busybox)
	if img.ID != wantID {
		t.Errorf("ID = %s, want %s", img.ID, wantID)
	}
	if !slices.Equal(img.RepoTags, []string{wantTag}) || !slices.Equal(img.RepoDigests, []string{wantDigest}) {
		t.Errorf("RepoTags = %v, RepoDigests = %v; want [%s], [%s]", img.RepoTags, img.RepoDigests, wantTag, wantDigest)
	}
	if !slices.Equal(img.Config.Cmd, []string{"sh"}) || !slices.Equal(img.Config.Env, imagetest.BusyboxEnv) {
		t.Errorf("Config = %+v", img.Config)
	}
	if !slices.Equal(img.Layers, diffIDs(t, busybox)) || img.Size <= 0 {
		t.Errorf("Layers = %v, Size = %d", img.Layers, img.Size)
	}

	// The same image by digest: one record, now under the digest too.
	byDigest, err := s.Pull(ctx, wantDigest, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.ID != wantID {
		t.Errorf("pull by digest: ID = %s, want %s", byDigest.ID, wantID)
	}

	for _, ref := range []string{wantTag, wantDigest, wantID, strings.TrimPrefix(wantID, "sha256:")[:12], wantID[:19], host + "/library/busybox:1.36"} {
		got, err := s.Get(ref)
		if err != nil {
			t.Errorf("Get(%q): %v", ref, err)
			continue
		}
		if got.ID != wantID {
			t.Errorf("Get(%q).ID = %s, want %s", ref, got.ID, wantID)
		}
	}
	if _, err := s.Get(host + "/library/busybox:other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown tag) = %v, want ErrNotFound", err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !slices.Equal(list[0].RepoTags, []string{wantTag}) || !slices.Equal(list[0].RepoDigests, []string{wantDigest}) {
		t.Errorf("List = %+v", list)
	}

	dirs, err := s.LayerDirs(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 {
		t.Fatalf("LayerDirs = %v, want one", dirs)
	}
	fi, err := os.Lstat(filepath.Join(dirs[0], "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox mode = %v, want -rwxr-xr-x", fi.Mode())
	}
	if target, err := os.Readlink(filepath.Join(dirs[0], "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want a symlink to busybox", target, err)
	}
	if fi, err := os.Lstat(filepath.Join(dirs[0], "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v, %v; want drwxrwxrwt", fi.Mode(), err)
	}
	if passwd, err := os.ReadFile(filepath.Join(dirs[0], "etc/passwd")); err != nil || !bytes.HasPrefix(passwd, []byte("root:x:0:0:")) {
		t.Errorf("etc/passwd = %q, %v", passwd, err)
	}
}

func TestPullDoesNotDownloadWhatIsStored(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	var blobs blobCounter
	host := imagetest.ServeRegistry(t, blobs.wrap)
	ref := imagetest.Push(t, host, "busybox:latest", busybox)
	// Another image on the same layer: only its config is new.
	cfg, err := busybox.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config.DeepCopy()
	c.Cmd = []string{"sleep", "3600"}
	sleeper, err := mutate.Config(busybox, *c)
	if err != nil {
		t.Fatal(err)
	}
	sleeperRef := imagetest.Push(t, host, "sleeper:latest", sleeper)
	layers, err := busybox.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layerDigest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Options{Insecure: []string{host}})
	ctx := testContext(t)

	blobs.reset()
	if _, err := s.Pull(ctx, ref, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := blobs.get(layerDigest.String()); n != 1 {
		t.Fatalf("first pull: %d GETs of the layer blob, want 1", n)
	}

	blobs.reset()
	if _, err := s.Pull(ctx, ref, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := blobs.total(); n != 0 {
		t.Errorf("second pull of a stored image: %d blob GETs, want 0", n)
	}

	blobs.reset()
	img, err := s.Pull(ctx, sleeperRef, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Config.Cmd, []string{"sleep", "3600"}) {
		t.Errorf("sleeper Cmd = %v", img.Config.Cmd)
	}
	if n := blobs.get(layerDigest.String()); n != 0 {
		t.Errorf("pull of an image whose layer is stored: %d GETs of the layer blob, want 0", n)
	}
	if n := blobs.get(configID(t, sleeper)); n != 1 {
		t.Errorf("pull of a new image: %d GETs of its config, want 1", n)
	}
	if names := layerDirNames(t, s); len(names) != 1 {
		t.Errorf("layer dirs = %v, want one shared layer", names)
	}
}

func TestPullMultiArchIndex(t *testing.T) {
	requireRoot(t)
	amd64 := smallImage(t, "arch", "amd64")
	arm64 := smallImage(t, "arch", "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	host := imagetest.Registry(t)
	ref, err := name.ParseReference(host+"/multi:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	hostImage := map[string]v1.Image{"amd64": amd64, "arm64": arm64}[runtime.GOARCH]

	tests := []struct {
		platform string
		want     v1.Image
		wantErr  string
	}{
		{platform: "", want: hostImage},
		{platform: "linux/amd64", want: amd64},
		{platform: "linux/arm64", want: arm64},
		{platform: "linux/s390x", wantErr: "linux/s390x"},
	}
	for _, tt := range tests {
		t.Run("platform="+tt.platform, func(t *testing.T) {
			if tt.platform == "" && tt.want == nil {
				t.Skipf("the test index has no image for this host's %s", runtime.GOARCH)
			}
			s := openStore(t, Options{Insecure: []string{host}, Platform: tt.platform})
			img, err := s.Pull(testContext(t), ref.Name(), PullOptions{})
			if tt.wantErr != "" {
				t.Logf("Pull: %v", err)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Pull = %v, want an error naming %s", err, tt.wantErr)
				}
				assertNothingStored(t, s)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := configID(t, tt.want); img.ID != want {
				t.Errorf("ID = %s, want %s", img.ID, want)
			}
			// The digest name is the index's: pulling it again gets this image.
			if want := host + "/multi@" + manifestDigest(t, idx); !slices.Equal(img.RepoDigests, []string{want}) {
				t.Errorf("RepoDigests = %v, want [%s]", img.RepoDigests, want)
			}
		})
	}
}

// basicAuth demands user:pass on every registry API request, as a registry
// with basic auth does.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestPullBasicAuth(t *testing.T) {
	requireRoot(t)
	host := imagetest.ServeRegistry(t, basicAuth("shep", "herd"))
	img := smallImage(t, "secret", "s3cr3t")
	ref, err := name.ParseReference(host+"/private:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "shep", Password: "herd"})); err != nil {
		t.Fatal(err)
	}

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	good := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, b64("shep:herd"))
	goodWithScheme := fmt.Sprintf(`{"auths": {"http://%s/v2/": {"username": "shep", "password": "herd"}}}`, host)
	legacy := fmt.Sprintf(`{%q: {"auth": %q, "email": "a@b.c"}}`, host, b64("shep:herd"))
	wrong := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, b64("shep:wrong"))
	otherHost := fmt.Sprintf(`{"auths": {"registry.example.com": {"auth": %q}}}`, b64("shep:herd"))
	authFile := func(content string) string {
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	tests := []struct {
		name     string
		secrets  []string
		authFile string
		wantErr  bool
	}{
		{name: "no credentials", wantErr: true},
		{name: "pull secret", secrets: []string{good}},
		{name: "pull secret keyed by URL", secrets: []string{goodWithScheme}},
		{name: "legacy dockercfg secret", secrets: []string{legacy}},
		{name: "wrong password", secrets: []string{wrong}, wantErr: true},
		{name: "secret for another registry", secrets: []string{otherHost}, wantErr: true},
		{name: "second secret matches", secrets: []string{otherHost, good}},
		{name: "auth file", authFile: authFile(good)},
		{name: "secret before auth file", secrets: []string{good}, authFile: authFile(wrong)},
		{name: "missing auth file", authFile: filepath.Join(t.TempDir(), "none.json"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, Options{Insecure: []string{host}, AuthFile: tt.authFile})
			var opts PullOptions
			for _, sec := range tt.secrets {
				opts.DockerConfigs = append(opts.DockerConfigs, []byte(sec))
			}
			got, err := s.Pull(testContext(t), ref.Name(), opts)
			if tt.wantErr {
				t.Logf("Pull: %v", err)
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
					t.Fatalf("Pull = %v, want an error saying unauthorized", err)
				}
				assertNothingStored(t, s)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != configID(t, img) {
				t.Errorf("ID = %s, want %s", got.ID, configID(t, img))
			}
		})
	}
}

// tokenAuth is a registry behind a bearer-token service at /token, which
// hands out a token for user:pass, as Docker Hub and most registries do.
func tokenAuth(user, pass string) func(http.Handler) http.Handler {
	const token = "tok-7f3a"
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
					http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
					return
				}
				fmt.Fprintf(w, `{"token": %q}`, token)
				return
			}
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestPullBearerTokenAuth(t *testing.T) {
	requireRoot(t)
	host := imagetest.ServeRegistry(t, tokenAuth("shep", "herd"))
	img := smallImage(t, "token", "t0k3n")
	ref, err := name.ParseReference(host+"/private:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "shep", Password: "herd"})); err != nil {
		t.Fatal(err)
	}
	secret := fmt.Sprintf(`{"auths": {%q: {"username": "shep", "password": "herd"}}}`, host)

	s := openStore(t, Options{Insecure: []string{host}})
	_, err = s.Pull(testContext(t), ref.Name(), PullOptions{})
	t.Logf("Pull: %v", err)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Fatalf("anonymous Pull = %v, want unauthorized", err)
	}
	got, err := s.Pull(testContext(t), ref.Name(), PullOptions{DockerConfigs: [][]byte{[]byte(secret)}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != configID(t, img) {
		t.Errorf("ID = %s, want %s", got.ID, configID(t, img))
	}
}

func TestPullPlainHTTPOnlyForInsecureHosts(t *testing.T) {
	requireRoot(t)
	host := imagetest.Registry(t)
	ref := imagetest.Push(t, host, "small:latest", smallImage(t, "f", "x"))

	s := openStore(t, Options{})
	_, err := s.Pull(testContext(t), ref, PullOptions{})
	if err == nil {
		t.Fatal("Pull over plain HTTP from a host not listed as insecure succeeded")
	}
	t.Logf("Pull: %v", err)
	if !strings.Contains(err.Error(), "HTTP") {
		t.Errorf("error %q does not say HTTP was the problem", err)
	}
	assertNothingStored(t, s)

	s = openStore(t, Options{Insecure: []string{"127.0.0.1:1"}}) // some other host
	if _, err := s.Pull(testContext(t), ref, PullOptions{}); err == nil {
		t.Fatal("Pull over plain HTTP from a host not listed as insecure succeeded")
	}
}

// corruptBlob serves the blob with the given digest with one byte changed:
// the gzip header's OS byte, so the stream still decompresses and only the
// digest check can catch it.
func corruptBlob(digest string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+digest) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 9 {
				body[9] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

func TestPullRejectsCorruptContent(t *testing.T) {
	requireRoot(t)
	img := smallImage(t, "data", strings.Repeat("shepherd ", 1000))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	blobDigest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("blob digest", func(t *testing.T) {
		host := imagetest.ServeRegistry(t, corruptBlob(blobDigest.String()))
		ref := imagetest.Push(t, host, "corrupt:latest", img)
		s := openStore(t, Options{Insecure: []string{host}})
		_, err := s.Pull(testContext(t), ref, PullOptions{})
		t.Logf("Pull: %v", err)
		if err == nil || !strings.Contains(err.Error(), blobDigest.String()) {
			t.Fatalf("Pull = %v, want a digest mismatch naming %s", err, blobDigest)
		}
		assertNothingStored(t, s)
	})

	t.Run("diffID", func(t *testing.T) {
		// The config claims another uncompressed digest for the layer.
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
		lying, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		host := imagetest.Registry(t)
		ref := imagetest.Push(t, host, "lying:latest", lying)
		s := openStore(t, Options{Insecure: []string{host}})
		_, err = s.Pull(testContext(t), ref, PullOptions{})
		t.Logf("Pull: %v", err)
		if err == nil || !strings.Contains(err.Error(), "diffID mismatch") {
			t.Fatalf("Pull = %v, want a diffID mismatch", err)
		}
		assertNothingStored(t, s)
	})
}

func TestConcurrentPulls(t *testing.T) {
	requireRoot(t)
	busybox := imagetest.Busybox(t)
	var blobs blobCounter
	host := imagetest.ServeRegistry(t, blobs.wrap)
	ref := imagetest.Push(t, host, "busybox:latest", busybox)
	layers, err := busybox.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layerDigest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("goroutines", func(t *testing.T) {
		blobs.reset()
		s := openStore(t, Options{Insecure: []string{host}})
		ids := pullConcurrently(t, ref, s, s, s, s)
		for _, id := range ids {
			if id != configID(t, busybox) {
				t.Errorf("a pull returned ID %s, want %s", id, configID(t, busybox))
			}
		}
		if names := layerDirNames(t, s); len(names) != 1 {
			t.Errorf("layer dirs = %v, want one", names)
		}
		if n := blobs.get(layerDigest.String()); n != 1 {
			t.Errorf("%d GETs of the layer blob, want 1 (one download shared)", n)
		}
	})

	t.Run("stores sharing a root", func(t *testing.T) {
		// Two Stores on one root behave as two processes do: no shared
		// memory, only the files and their flocks.
		root := filepath.Join(t.TempDir(), "images")
		var stores []*Store
		for range 4 {
			s, err := Open(root, Options{Insecure: []string{host}, Log: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			stores = append(stores, s)
		}
		pullConcurrently(t, ref, stores...)
		if names := layerDirNames(t, stores[0]); len(names) != 1 {
			t.Errorf("layer dirs = %v, want one", names)
		}
		if names := dirNames(t, stores[0].tmpDir()); len(names) != 0 {
			t.Errorf("tmp/ holds %v after the pulls", names)
		}
		for i, s := range stores {
			list, err := s.List()
			if err != nil || len(list) != 1 || list[0].ID != configID(t, busybox) {
				t.Errorf("store %d: List = %v, %v; want the busybox image", i, list, err)
			}
		}
	})
}

func pullConcurrently(t *testing.T, ref string, stores ...*Store) []string {
	t.Helper()
	ctx := testContext(t)
	ids := make([]string, len(stores))
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			img, err := s.Pull(ctx, ref, PullOptions{})
			if err == nil {
				ids[i] = img.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	return ids
}
