package storage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

// TestDecodeContinueRefusesUncleanKeys: a continue token's start key is
// appended to the list's prefix, so, as kube-apiserver, the store refuses
// keys that are not clean paths: they could name keys outside the list.
func TestDecodeContinueRefusesUncleanKeys(t *testing.T) {
	token := func(start string) string {
		data, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: 5, StartKey: start})
		return base64.RawURLEncoding.EncodeToString(data)
	}
	cases := []struct {
		start, want string // want "" = refused
	}{
		{"web\x00", "web\x00"},
		{"default/web\x00", "default/web\x00"},
		{"/web\x00", "web\x00"}, // kube-apiserver accepts a leading slash
		{"../secrets/default/x", ""},
		{"..", ""},
		{"default/../../secrets", ""},
		{"default/..", ""},
		{"./web", ""},
		{"default//web", ""},
		{"default/web/", ""},
	}
	for _, c := range cases {
		rev, start, err := decodeContinue(token(c.start))
		switch {
		case c.want == "" && !errors.Is(err, ErrInvalidContinue):
			t.Errorf("start key %q: got %q, %v; want ErrInvalidContinue", c.start, start, err)
		case c.want != "" && (err != nil || start != c.want || rev != 5):
			t.Errorf("start key %q: got %q at %d, %v; want %q at 5", c.start, start, rev, err, c.want)
		}
	}
	// The tokens the store issues pass.
	if _, start, err := decodeContinue(ContinueToken(7, "/registry/pods/", "/registry/pods/default/web")); err != nil || start != "default/web\x00" {
		t.Fatalf("issued token: %q, %v", start, err)
	}
}
