package openapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// Schema is an OpenAPI schema object, in the subset Kubernetes uses. The
// same value serializes for v2 and v3; references are written with the
// document's prefix.
type Schema struct {
	Ref                  string             `json:"$ref,omitempty"`
	Description          string             `json:"description,omitempty"`
	Type                 string             `json:"type,omitempty"`
	Format               string             `json:"format,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	AdditionalProperties *Schema            `json:"additionalProperties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AllOf                []*Schema          `json:"allOf,omitempty"`
	OneOf                []*Schema          `json:"oneOf,omitempty"`
	Default              any                `json:"default,omitempty"`
	// Extensions are the x-kubernetes-* keys.
	Extensions map[string]any `json:"-"`
}

// MarshalJSON writes the schema with its extensions inline.
func (s *Schema) MarshalJSON() ([]byte, error) {
	type plain Schema
	data, err := json.Marshal((*plain)(s))
	if err != nil || len(s.Extensions) == 0 {
		return data, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k, v := range s.Extensions {
		m[k] = v
	}
	return json.Marshal(m)
}

func (s *Schema) ext(key string, value any) {
	if s.Extensions == nil {
		s.Extensions = map[string]any{}
	}
	s.Extensions[key] = value
}

// definitions collects the named schemas of Go types.
type definitions struct {
	schemas map[string]*Schema
	// refPrefix is "#/components/schemas/" (v3) or "#/definitions/" (v2).
	refPrefix string
	v3        bool
	smd       *smdschema.Schema
}

func newDefinitions(v3 bool, smd *smdschema.Schema) *definitions {
	d := &definitions{schemas: map[string]*Schema{}, v3: v3, smd: smd, refPrefix: "#/definitions/"}
	if v3 {
		d.refPrefix = "#/components/schemas/"
	}
	return d
}

// DefinitionName is a Go type's OpenAPI name, as Kubernetes names them:
// the reversed domain of its package then the package path, then the type
// (k8s.io/api/core/v1.Pod → io.k8s.api.core.v1.Pod).
func DefinitionName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	path := t.PkgPath()
	domain, rest, _ := strings.Cut(path, "/")
	parts := strings.Split(domain, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

// Interfaces Kubernetes types implement to describe themselves.
type (
	openAPISchemaType   interface{ OpenAPISchemaType() []string }
	openAPISchemaFormat interface{ OpenAPISchemaFormat() string }
	openAPIV3OneOf      interface{ OpenAPIV3OneOfTypes() []string }
	swaggerDoc          interface{ SwaggerDoc() map[string]string }
)

// add makes sure the named schema of struct type t (and of every type it
// refers to) is defined, and returns its name.
func (d *definitions) add(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := DefinitionName(t)
	if _, ok := d.schemas[name]; ok {
		return name
	}
	s := &Schema{}
	d.schemas[name] = s // before recursing: types may refer to themselves
	if custom := d.customSchema(t); custom != nil {
		*s = *custom
		s.Description = typeDescription(t)
		return name
	}
	s.Type = "object"
	s.Description = typeDescription(t)
	s.Properties = map[string]*Schema{}
	docs := fieldDocs(t)
	d.addFields(t, name, s, docs)
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	sort.Strings(s.Required)
	return name
}

// addFields adds t's fields (and those of inlined structs) to s.
func (d *definitions) addFields(t reflect.Type, typeName string, s *Schema, docs map[string]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		jsonName, opts, _ := strings.Cut(tag, ",")
		if jsonName == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && jsonName == "") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			inlined := fieldDocs(ft)
			for k, v := range docs {
				inlined[k] = v
			}
			d.addFields(ft, typeName, s, inlined)
			continue
		}
		if jsonName == "" {
			jsonName = f.Name
		}
		prop := d.fieldSchema(f.Type)
		desc := docs[jsonName]
		if prop.Ref != "" {
			// A reference carries no siblings in OpenAPI 3; Kubernetes wraps
			// it so the field keeps its own description.
			if d.v3 {
				prop = &Schema{AllOf: []*Schema{prop}}
				if f.Type.Kind() == reflect.Struct {
					prop.Default = map[string]any{}
				}
			}
		}
		prop.Description = desc
		if ps := f.Tag.Get("patchStrategy"); ps != "" {
			prop.ext("x-kubernetes-patch-strategy", ps)
		}
		if mk := f.Tag.Get("patchMergeKey"); mk != "" {
			prop.ext("x-kubernetes-patch-merge-key", mk)
		}
		d.listExtensions(typeName, jsonName, prop)
		s.Properties[jsonName] = prop
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			s.Required = append(s.Required, jsonName)
		}
	}
}

// fieldSchema is the schema of a field of type t: inline for scalars,
// arrays and maps, a reference for named structs.
func (d *definitions) fieldSchema(t reflect.Type) *Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return &Schema{Ref: d.refPrefix + d.add(t)}
	}
	if custom := d.customSchema(t); custom != nil {
		return custom
	}
	switch t.Kind() {
	case reflect.String:
		return &Schema{Type: "string"}
	case reflect.Bool:
		return &Schema{Type: "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return &Schema{Type: "integer", Format: "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return &Schema{Type: "integer", Format: "int64"}
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: "number", Format: "double"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Schema{Type: "string", Format: "byte"}
		}
		items := d.fieldSchema(t.Elem())
		if d.v3 && items.Ref != "" {
			items = &Schema{AllOf: []*Schema{items}, Default: map[string]any{}}
		}
		return &Schema{Type: "array", Items: items}
	case reflect.Map:
		values := d.fieldSchema(t.Elem())
		if d.v3 && values.Ref != "" {
			values = &Schema{AllOf: []*Schema{values}, Default: map[string]any{}}
		}
		return &Schema{Type: "object", AdditionalProperties: values}
	case reflect.Interface:
		return &Schema{Type: "object"}
	}
	return &Schema{}
}

// customSchema is the schema of a type that describes itself (Time,
// Quantity, IntOrString, RawExtension ...), or nil.
func (d *definitions) customSchema(t reflect.Type) *Schema {
	v := reflect.New(t).Elem().Interface()
	typ, ok := v.(openAPISchemaType)
	if !ok {
		if DefinitionName(t) == "io.k8s.apimachinery.pkg.runtime.RawExtension" {
			return &Schema{Type: "object"}
		}
		return nil
	}
	s := &Schema{}
	if types := typ.OpenAPISchemaType(); len(types) > 0 {
		s.Type = types[0]
	}
	if f, ok := v.(openAPISchemaFormat); ok {
		s.Format = f.OpenAPISchemaFormat()
	}
	if one, ok := v.(openAPIV3OneOf); ok && d.v3 {
		for _, t := range one.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, &Schema{Type: t})
		}
		s.Type = ""
	}
	if s.Format == "int-or-string" {
		s.ext("x-kubernetes-int-or-string", true)
	}
	return s
}

// listExtensions marks a list or map field with how server-side apply and
// strategic merge treat it, from the structured-merge-diff schema.
func (d *definitions) listExtensions(typeName, field string, prop *Schema) {
	if d.smd == nil || (prop.Type != "array" && prop.Type != "object") {
		return
	}
	td, ok := d.smd.FindNamedType(typeName)
	if !ok || td.Map == nil {
		return
	}
	sf, ok := td.Map.FindField(field)
	if !ok {
		return
	}
	atom, ok := d.smd.Resolve(sf.Type)
	if !ok {
		return
	}
	switch {
	case prop.Type == "array" && atom.List != nil:
		switch {
		case atom.List.ElementRelationship == smdschema.Atomic:
			prop.ext("x-kubernetes-list-type", "atomic")
		case len(atom.List.Keys) > 0:
			prop.ext("x-kubernetes-list-type", "map")
			prop.ext("x-kubernetes-list-map-keys", atom.List.Keys)
		case atom.List.ElementRelationship == smdschema.Associative:
			prop.ext("x-kubernetes-list-type", "set")
		}
	case prop.Type == "object" && atom.Map != nil && atom.Map.ElementRelationship == smdschema.Atomic && prop.AdditionalProperties != nil:
		prop.ext("x-kubernetes-map-type", "atomic")
	}
}

func typeDescription(t reflect.Type) string { return fieldDocs(t)[""] }

// fieldDocs returns a type's SwaggerDoc: "" is the type's description, the
// other keys its fields' json names.
func fieldDocs(t reflect.Type) map[string]string {
	docs := map[string]string{}
	if t.Kind() != reflect.Struct {
		return docs
	}
	if sd, ok := reflect.New(t).Elem().Interface().(swaggerDoc); ok {
		for k, v := range sd.SwaggerDoc() {
			docs[k] = v
		}
	} else if sd, ok := reflect.New(t).Interface().(swaggerDoc); ok {
		for k, v := range sd.SwaggerDoc() {
			docs[k] = v
		}
	}
	return docs
}
