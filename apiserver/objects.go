package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// metaObject is an object's metadata accessor.
type metaObject = metav1.Object
