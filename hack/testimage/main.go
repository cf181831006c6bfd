// Command testimage writes a busybox image, built from the host's static
// busybox (Debian's busybox-static), as a `docker save` archive tagged
// docker.io/library/busybox:latest, for tests and labs without a registry:
//
//	go run ./hack/testimage -o _output/images/busybox.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

func main() {
	out := flag.String("o", "_output/images/busybox.tar", "archive to write")
	tag := flag.String("tag", "docker.io/library/busybox:latest", "tag of the image in the archive")
	busybox := flag.String("busybox", imagetest.BusyboxPath, "the static busybox executable the image is made from")
	flag.Parse()
	if err := run(*out, *tag, *busybox); err != nil {
		fmt.Fprintln(os.Stderr, "testimage:", err)
		os.Exit(1)
	}
}

func run(out, tag, busybox string) error {
	img, err := imagetest.BusyboxImageFrom(busybox)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// Written aside and renamed, so an interrupted run leaves no archive
	// that make run would take for a whole one.
	tmp := out + ".tmp"
	if err := imagetest.WriteDockerArchive(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s, image %s)\n", out, tag, id)
	return nil
}
