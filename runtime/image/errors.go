package image

import "errors"

// ErrNotFound is returned when a reference names no image in the store. It is
// wrapped with the reference: errors.Is(err, ErrNotFound) tells a missing
// image from a broken store.
var ErrNotFound = errors.New("image not found")

// ErrUnsafeLayer is returned when a layer holds an entry that could write
// outside the layer directory: an absolute name, a ".." component, a path
// through a symlink, or a hardlink to such a target. The error names the
// layer's diffID and the entry. When it is returned nothing of the layer is
// left in the store.
var ErrUnsafeLayer = errors.New("unsafe layer entry")
