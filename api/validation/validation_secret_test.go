package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func validSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
}

func TestValidateSecret(t *testing.T) {
	typed := func(typ corev1.SecretType, data map[string][]byte) func(*corev1.Secret) {
		return func(s *corev1.Secret) { s.Type, s.Data = typ, data }
	}
	tests := []struct {
		name   string
		mutate func(*corev1.Secret)
		want   []wantErr
	}{
		{"valid", func(*corev1.Secret) {}, nil},
		{"bad key", func(s *corev1.Secret) { s.Data["a b"] = nil }, errs(invalid("data[a b]"))},
		{"bad stringData key", func(s *corev1.Secret) { s.StringData = map[string]string{"a:b": "x"} }, errs(invalid("stringData[a:b]"))},
		{"over 1 MiB", func(s *corev1.Secret) { s.Data["big"] = make([]byte, 1<<20) }, errs(tooLong("data"))},
		{"custom type", typed("example.com/token", nil), nil},
		{"tls", typed(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}), nil},
		{"tls without keys", typed(corev1.SecretTypeTLS, nil), errs(required("data[tls.crt]"), required("data[tls.key]"))},
		{"tls key from stringData", func(s *corev1.Secret) {
			s.Type, s.Data = corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c")}
			s.StringData = map[string]string{"tls.key": "k"}
		}, nil},
		{"dockerconfigjson", typed(corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}), nil},
		{"dockerconfigjson missing", typed(corev1.SecretTypeDockerConfigJson, nil), errs(required("data[.dockerconfigjson]"))},
		{"dockerconfigjson not JSON", typed(corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte("{")}),
			errs(invalid("data[.dockerconfigjson]"))},
		{"dockercfg missing", typed(corev1.SecretTypeDockercfg, nil), errs(required("data[.dockercfg]"))},
		{"basic-auth with username only", typed(corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte("u")}), nil},
		{"basic-auth empty", typed(corev1.SecretTypeBasicAuth, nil), errs(required("data[username]"), required("data[password]"))},
		{"ssh-auth without key", typed(corev1.SecretTypeSSHAuth, nil), errs(required("data[ssh-privatekey]"))},
		{"service account token without account", typed(corev1.SecretTypeServiceAccountToken, nil),
			errs(required("metadata.annotations[kubernetes.io/service-account.name]"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSecret()
			tc.mutate(s)
			assertErrors(t, ValidateSecret(s), tc.want)
		})
	}
}

func TestValidateSecretUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s, old *corev1.Secret)
		want   []wantErr
	}{
		{"data changes", func(s, _ *corev1.Secret) { s.Data["password"] = []byte("new") }, nil},
		{"type changes", func(s, _ *corev1.Secret) { s.Type = "example.com/other" }, errs(invalid("type"))},
		{"immutable, data changes", func(s, old *corev1.Secret) {
			old.Immutable, s.Immutable = ptr.To(true), ptr.To(true)
			s.Data["password"] = []byte("new")
		}, errs(forbidden("data"))},
		{"immutable unset", func(s, old *corev1.Secret) { old.Immutable = ptr.To(true) }, errs(forbidden("immutable"))},
		{"immutable, nothing changes", func(s, old *corev1.Secret) { old.Immutable, s.Immutable = ptr.To(true), ptr.To(true) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validSecret()
			old.ResourceVersion = "1"
			s := old.DeepCopy()
			tc.mutate(s, old)
			assertErrors(t, ValidateSecretUpdate(s, old), tc.want)
		})
	}

	old := validSecret()
	old.ResourceVersion = "1"
	s := old.DeepCopy()
	s.Type = corev1.SecretTypeTLS
	s.Data = map[string][]byte{"tls.crt": nil, "tls.key": nil}
	got := ValidateSecretUpdate(s, old)
	if len(got) != 1 || !strings.Contains(got[0].Error(), "field is immutable") {
		t.Errorf("want type immutable error, got:\n%s", describe(got))
	}
}
