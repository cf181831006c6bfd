package image

import (
	"context"
	"os"
	"testing"

	"github.com/shepherd-lab/shepherd/runtime/image/imagetest"
)

// BenchmarkUnpackBusybox unpacks the busybox layer (2 MB, ~80 entries,
// gzip) into a fresh store each iteration: decompression, extraction,
// diffID check, sync and rename.
func BenchmarkUnpackBusybox(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	img := imagetest.Busybox(b)
	layers, err := img.Layers()
	if err != nil {
		b.Fatal(err)
	}
	diffID, err := layers[0].DiffID()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		s, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.ensureLayer(context.Background(), layers[0], diffID); err != nil {
			b.Fatal(err)
		}
	}
}
