// Command shepherd-shim is the container runtime's helper process: each
// container's monitor, its init stage (the binary re-executes itself into
// the container's new namespaces), and a pod sandbox's namespace holder.
// The runtime starts it; it is not run by hand. It is a separate, small
// binary because Go runs every imported package's initialisation before
// main, and the kubelet's imports would add about 10 ms to each container
// start; this one imports only the standard library and x/sys.
package main

import (
	"fmt"
	"os"

	"github.com/shepherd-lab/shepherd/runtime/container"
)

func main() {
	container.ShimMain()
	fmt.Fprintln(os.Stderr, "shepherd-shim: started by the container runtime (shepherd-kubelet), not by hand")
	os.Exit(2)
}
