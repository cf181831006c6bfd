package image

import "testing"

func TestNormalizeRef(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "docker.io/busybox", want: "docker.io/library/busybox:latest"},
		{in: "index.docker.io/library/busybox:1", want: "docker.io/library/busybox:1"},
		{in: "docker.io/library/busybox:latest", want: "docker.io/library/busybox:latest"},
		{in: "someone/app", want: "docker.io/someone/app:latest"},
		{in: "quay.io/a/b/c:v2", want: "quay.io/a/b/c:v2"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest"},
		{in: "127.0.0.1:5000/app:dev", want: "127.0.0.1:5000/app:dev"},
		{in: "busybox@" + digest, want: "docker.io/library/busybox@" + digest},
		{in: "busybox:1.36@" + digest, want: "docker.io/library/busybox@" + digest},
		{in: "", wantErr: true},
		{in: "Busybox", wantErr: true},
		{in: "busybox:", wantErr: true},
		{in: "busybox@sha256:short", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizeRef(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
