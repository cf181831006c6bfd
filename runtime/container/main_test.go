package container

import (
	"os"
	"testing"
)

// The test binary is the shim: the runtime under test re-executes it as
// each container's monitor and init stage.
func TestMain(m *testing.M) {
	ShimMain()
	os.Exit(m.Run())
}
