package schemacheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/falsify/falsify/evidence"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schemas holds the compiled gate and run schemas.
type Schemas struct {
	Gate, Run *jsonschema.Schema
}

// Compile compiles the schemas embedded in package evidence.
func Compile() (*Schemas, error) {
	c := jsonschema.NewCompiler()
	for _, f := range []string{evidence.GateSchemaFile, evidence.RunSchemaFile} {
		data, err := fs.ReadFile(evidence.SchemaFS(), f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if err := c.AddResource(f, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	gate, err := c.Compile(evidence.GateSchemaFile)
	if err != nil {
		return nil, err
	}
	run, err := c.Compile(evidence.RunSchemaFile)
	if err != nil {
		return nil, err
	}
	return &Schemas{Gate: gate, Run: run}, nil
}

// ValidateDir validates every evidence JSON file under dir (gate records
// and run reports, chosen by their "schema" field; other JSON is skipped)
// and returns how many of each it checked.
func (s *Schemas) ValidateDir(dir string) (gates, runs int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var head struct {
			Schema string `json:"schema"`
		}
		if json.Unmarshal(data, &head) != nil {
			return fmt.Errorf("%s: not JSON", path)
		}
		var schema *jsonschema.Schema
		switch head.Schema {
		case evidence.GateSchemaID:
			schema, gates = s.Gate, gates+1
		case evidence.RunSchemaID:
			schema, runs = s.Run, runs+1
		default:
			return nil
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := schema.Validate(doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	return gates, runs, err
}
