// Package schemacheck validates evidence files against the JSON Schemas in
// evidence/schema with an independent validator
// (santhosh-tekuri/jsonschema, draft 2020-12). Tests use it; the falsify
// binary does not.
package schemacheck
