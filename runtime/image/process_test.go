package image

import (
	"slices"
	"testing"
)

func TestResolveProcess(t *testing.T) {
	img := Config{Entrypoint: []string{"/entry", "-e"}, Cmd: []string{"default", "args"}}
	tests := []struct {
		name          string
		cfg           Config
		command, args []string
		want          []string
	}{
		{name: "neither: Entrypoint + Cmd", cfg: img, want: []string{"/entry", "-e", "default", "args"}},
		{name: "args only: Entrypoint + args", cfg: img, args: []string{"mine"}, want: []string{"/entry", "-e", "mine"}},
		{name: "command only: image ignored", cfg: img, command: []string{"/bin/sh"}, want: []string{"/bin/sh"}},
		{name: "command and args", cfg: img, command: []string{"/bin/sh", "-c"}, args: []string{"echo hi"}, want: []string{"/bin/sh", "-c", "echo hi"}},
		{name: "neither, Cmd only image", cfg: Config{Cmd: []string{"sh"}}, want: []string{"sh"}},
		{name: "args, no Entrypoint", cfg: Config{Cmd: []string{"sh"}}, args: []string{"ls"}, want: []string{"ls"}},
		{name: "nothing at all", cfg: Config{}},
		{name: "empty slices", cfg: Config{Entrypoint: []string{}, Cmd: []string{}}, command: []string{}, args: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveProcess(tt.cfg, tt.command, tt.args)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ResolveProcess = %q, want an error", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ResolveProcess = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	// The result never aliases the inputs: a caller may append to it.
	got, _ := ResolveProcess(img, nil, nil)
	got[0] = "changed"
	if img.Entrypoint[0] != "/entry" {
		t.Error("ResolveProcess returned the image config's own slice")
	}
}
