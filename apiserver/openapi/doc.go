// Package openapi generates the OpenAPI documents the apiserver serves —
// v3 per group version, v2 for the whole API — from the Go types of the
// served resources, so they can never drift from what the server accepts.
//
// Schemas come from reflection over k8s.io/api types: json tags give the
// properties, SwaggerDoc methods the descriptions, patchStrategy and
// patchMergeKey tags the strategic-merge extensions, and the types'
// OpenAPISchemaType methods the special cases (Time, Quantity,
// IntOrString). List types and map keys come from the structured-merge-diff
// schema client-go ships for the same types (the one server-side apply
// uses), since Go struct tags do not carry them.
package openapi
