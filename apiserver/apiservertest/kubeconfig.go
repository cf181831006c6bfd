package apiservertest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Kubeconfig writes a kubeconfig for the server at url (plain HTTP, no
// credentials) in a temporary directory and returns its path, for tests
// that run the real kubectl.
func Kubeconfig(t testing.TB, url string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: shepherd
  cluster: {server: %q}
contexts:
- name: shepherd
  context: {cluster: shepherd, user: shepherd}
current-context: shepherd
users:
- name: shepherd
  user: {}
`, url)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
