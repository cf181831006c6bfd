package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// pullPolicyFor is the default imagePullPolicy of an image: Always for a
// ":latest" tag (which a bare name implies), IfNotPresent for any other tag
// or for a digest, which never changes what it names.
func pullPolicyFor(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of an image reference: "1.27" for "nginx:1.27",
// "latest" for "nginx", "" for "nginx@sha256:..." and for references that
// cannot be parsed (such as "" or "nginx:").
func imageTag(image string) string {
	if image == "" {
		return ""
	}
	name, digest, hasDigest := strings.Cut(image, "@")
	if hasDigest && digest == "" {
		return ""
	}
	// A tag follows the last ':' of the last path element; an earlier ':'
	// belongs to a registry host's port ("registry:5000/app").
	lastElem := name[strings.LastIndex(name, "/")+1:]
	if i := strings.LastIndex(lastElem, ":"); i >= 0 {
		return lastElem[i+1:]
	}
	if hasDigest {
		return ""
	}
	return "latest"
}
