package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// credentialSource is one Docker config: a pull secret or the auth file.
type credentialSource struct {
	name  string
	auths map[string]authn.AuthConfig // by the config's key: "host[:port][/path]", maybe with a scheme
}

// keychain is an authn.Keychain over credential sources tried in order; the
// first source with an entry for the registry answers, with its most
// specific entry.
type keychain struct {
	sources []credentialSource

	mu   sync.Mutex
	used string // the source Resolve last answered from, for error messages
}

// usedSource names the source of the credentials last handed out, "" for
// none (anonymous).
func (k *keychain) usedSource() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.used
}

// keychain builds the credentials for one pull: the pull's secrets, then the
// store's auth file (re-read each time so edits apply at once; a missing
// file means no credentials).
func (s *Store) keychain(opts PullOptions) (*keychain, error) {
	kc := &keychain{}
	for i, data := range opts.DockerConfigs {
		auths, err := parseDockerConfig(data)
		if err != nil {
			return nil, fmt.Errorf("pull secret %d: %w", i, err)
		}
		kc.sources = append(kc.sources, credentialSource{name: fmt.Sprintf("pull secret %d", i), auths: auths})
	}
	if s.authFile != "" {
		data, err := os.ReadFile(s.authFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.log.Debug("registry auth file missing; pulling without it", "path", s.authFile)
		case err != nil:
			return nil, fmt.Errorf("registry auth file: %w", err)
		default:
			auths, err := parseDockerConfig(data)
			if err != nil {
				return nil, fmt.Errorf("registry auth file %s: %w", s.authFile, err)
			}
			kc.sources = append(kc.sources, credentialSource{name: s.authFile, auths: auths})
		}
	}
	return kc, nil
}

// parseDockerConfig reads a config.json / kubernetes.io/dockerconfigjson
// ({"auths": {key: entry}}) or a legacy .dockercfg ({key: entry}). An
// entry's "auth" (base64 "user:password") is decoded by authn.AuthConfig.
func parseDockerConfig(data []byte) (map[string]authn.AuthConfig, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parse docker config: %w", err)
	}
	body := data
	if raw, ok := top["auths"]; ok {
		body = raw
	}
	var auths map[string]authn.AuthConfig
	if err := json.Unmarshal(body, &auths); err != nil {
		return nil, fmt.Errorf("parse docker config: %w", err)
	}
	return auths, nil
}

// Resolve implements authn.Keychain.
func (k *keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	host := canonicalHost(target.RegistryStr())
	repo := strings.TrimPrefix(target.String(), target.RegistryStr())
	repo = strings.TrimPrefix(repo, "/")
	for _, src := range k.sources {
		best, bestScore := authn.AuthConfig{}, -1
		for key, cfg := range src.auths {
			if score := matchCredentialKey(key, host, repo); score > bestScore {
				best, bestScore = cfg, score
			}
		}
		if bestScore >= 0 {
			k.setUsed(src.name)
			return authn.FromConfig(best), nil
		}
	}
	k.setUsed("")
	return authn.Anonymous, nil
}

func (k *keychain) setUsed(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.used = name
}

// matchCredentialKey scores how well a Docker config key matches a
// registry host and repository path: -1 for no match, higher for more
// specific. Keys may carry a scheme and a path ("https://index.docker.io/v1/"
// is Docker Hub); a path other than the registry API's /v1 or /v2 must be a
// prefix of the repository; a "*." label matches one label, as in the
// kubelet's credential matching.
func matchCredentialKey(key, host, repo string) int {
	k := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	k = strings.TrimSuffix(k, "/")
	kHost, kPath, _ := strings.Cut(k, "/")
	if kPath == "v1" || kPath == "v2" {
		kPath = ""
	}
	if !hostMatches(canonicalHost(kHost), host) {
		return -1
	}
	score := 0
	if !strings.Contains(kHost, "*") {
		score = 1
	}
	if kPath != "" {
		kPath = path.Clean(kPath)
		if repo != kPath && !strings.HasPrefix(repo, kPath+"/") {
			return -1
		}
		score += 2 * len(kPath)
	}
	return score
}

// hostMatches compares hosts label by label; a "*" label in pattern matches
// any one label. A port is part of the last label, so ports must be equal.
func hostMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if pl[i] != "*" && pl[i] != hl[i] {
			return false
		}
	}
	return true
}

// canonicalHost lowercases a registry host and gives Docker Hub one name:
// credentials for it are keyed as docker.io, index.docker.io,
// registry-1.docker.io or https://index.docker.io/v1/.
func canonicalHost(h string) string {
	h = strings.ToLower(h)
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "index.docker.io"
	}
	return h
}
