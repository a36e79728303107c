package evidence

import (
	"embed"
	"io/fs"
)

//go:embed schema/*.json
var schemaFS embed.FS

// Schema file names inside SchemaFS.
const (
	GateSchemaFile = "schema/gate.schema.json"
	RunSchemaFile  = "schema/run.schema.json"
)

// SchemaFS holds the JSON Schemas (draft 2020-12) of both records, so
// other tools can validate evidence without this package.
func SchemaFS() fs.FS { return schemaFS }

// GateSchema returns the gate record's JSON Schema.
func GateSchema() []byte { b, _ := schemaFS.ReadFile(GateSchemaFile); return b }

// RunSchema returns the run report's JSON Schema.
func RunSchema() []byte { b, _ := schemaFS.ReadFile(RunSchemaFile); return b }
