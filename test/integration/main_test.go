package integration

import (
	"os"
	"testing"

	"github.com/shepherd-lab/shepherd/runtime/container"
)

// The test binary is the container runtime's shim for the kubelet tests:
// the runtime re-executes it as each container's monitor and init stage.
func TestMain(m *testing.M) {
	container.ShimMain()
	os.Exit(m.Run())
}
