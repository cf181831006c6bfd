package image

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestKeychainMatching(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	secret := fmt.Sprintf(`{"auths": {
		"https://index.docker.io/v1/": {"auth": %q},
		"quay.io": {"username": "quay", "password": "q"},
		"quay.io/team": {"username": "team", "password": "t"},
		"*.example.com": {"username": "wild", "password": "w"},
		"127.0.0.1:5000": {"username": "local", "password": "l"}
	}}`, b64("hub:h"))
	s := &Store{}
	kc, err := s.keychain(PullOptions{DockerConfigs: [][]byte{[]byte(secret)}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ repo, wantUser string }{
		{"busybox", "hub"},
		{"docker.io/someone/app", "hub"},
		{"quay.io/other/app", "quay"},
		{"quay.io/team/app", "team"},
		{"quay.io/teamster/app", "quay"},
		{"registry.example.com/app", "wild"},
		{"a.b.example.com/app", ""},
		{"127.0.0.1:5000/app", "local"},
		{"127.0.0.1:5001/app", ""},
		{"ghcr.io/app", ""},
	}
	for _, tt := range tests {
		repo, err := name.NewRepository(tt.repo)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(repo)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if a == authn.Anonymous {
			cfg = &authn.AuthConfig{}
		}
		if cfg.Username != tt.wantUser {
			t.Errorf("%s: user %q, want %q", tt.repo, cfg.Username, tt.wantUser)
		}
	}

	if _, err := s.keychain(PullOptions{DockerConfigs: [][]byte{[]byte("{not json")}}); err == nil {
		t.Error("a malformed pull secret was accepted")
	}
}
