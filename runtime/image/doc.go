// Package image is a node's container image store: it pulls images from
// registries, imports `docker save` archives and OCI layouts, keeps each
// layer unpacked once (shared by every image that has it) as an overlayfs
// lower directory, and garbage-collects what no image or container needs.
//
// # Use
//
//	s, err := image.Open("/var/lib/shepherd/kubelet/images", image.Options{Log: log})
//	img, err := s.Pull(ctx, "busybox", image.PullOptions{DockerConfigs: secrets})
//	dirs, err := s.LayerDirs(img)            // bottom to top; overlay's lowerdir wants them reversed
//	argv, err := image.ResolveProcess(img.Config, ctr.Command, ctr.Args)
//	...
//	s.GC(ctx, map[string]bool{img.ID: true}) // keep the images containers use
//
// # On disk
//
//	<root>/
//	  images.json              every image record: ID, tags, digest names, layers, config
//	  images.lock              flock: held exclusively while images.json is rewritten
//	  layers.lock              flock: shared by pulls and imports, exclusive for GC
//	  layers/sha256/<hex>/fs/  the unpacked layer whose diffID is sha256:<hex>
//	  tmp/                     unpacks and imports in progress
//
// A layer is named by its diffID, the digest of its uncompressed tar stream,
// so an image's layer list is also the list of its directories.
//
// # Invariants
//
// A layer directory exists only when complete and verified. A layer is
// unpacked into a fresh directory under tmp/ (the same filesystem), its
// uncompressed stream checked against the image config's diffID (and, when
// pulled, its compressed blob against the manifest's digest), its contents
// synced, and only then renamed to layers/sha256/<hex>. A failed unpack
// removes its directory. Two unpacks of one layer (goroutines, or processes
// sharing the root) both succeed and leave one copy: the first rename wins.
// GC removes a layer by renaming it into tmp/ first, so a half-deleted layer
// is never seen either.
//
// Unpacking never writes outside the layer's directory: entries with
// absolute names or ".." components, entries reached through a symlink, and
// hardlinks to such targets fail the unpack with ErrUnsafeLayer. Device
// nodes and fifos in a layer are not created. Whiteouts become what
// overlayfs expects: ".wh.<name>" a 0:0 character device, ".wh..wh..opq"
// the trusted.overlay.opaque=y xattr. Unpacking (chown, mknod, trusted
// xattrs) needs root.
//
// images.json is replaced whole (written to a temporary file, synced,
// renamed), so readers need no lock and always see a complete version.
// Writers hold an in-process mutex and images.lock, and re-read the file
// under them before changing it, so processes sharing a root do not lose
// each other's updates. An image is recorded only after all its layers are
// in place.
//
// Names: a tag or digest name belongs to one image. When a pull or import
// moves a tag to a new image, the old image loses it, and with its last tag
// its digest names too: it is dangling. GC removes dangling images that are
// not in its keep set, then the layer directories no remaining image
// references, then everything in tmp/.
//
// # What is safe to delete
//
// With no pull, import or GC running: anything under tmp/, any
// images.json.tmp-* file, and any layer directory (an image whose layer is
// gone fails LayerDirs with ErrNotFound and is pulled again). Never delete a
// layer directory that a running container's overlay mount uses. Deleting
// images.json forgets every image, and the next GC then removes every
// layer, those of running containers included.
package image
