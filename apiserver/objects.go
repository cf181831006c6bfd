package apiserver

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// reflectCopy sets *dst = *src for two pointers to the same struct type.
func reflectCopy(dst, src runtime.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

// metaObject is an object's metadata accessor.
type metaObject = metav1.Object
