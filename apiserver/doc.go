// Package apiserver serves the Kubernetes REST API over Shepherd's storage:
// routing, content negotiation, the generic verb handlers (one file per
// verb), subresources, admission, watch streaming from the watch caches,
// health, version and metrics.
//
// Handlers are generic over api.Resource; nothing here is written per
// resource except the few subresources Kubernetes defines for one kind
// (pods/binding, the scale subresource) and admission rules.
package apiserver
