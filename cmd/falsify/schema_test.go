package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/falsify/falsify/evidence"
)

// compileSchema compiles a schema file with an independent validator.
func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := c.AddResource(path, doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// TestJSONOutputsMatchTheirSchemas: every --json output validates against
// its published schema (docs/schemas, evidence/schema for run and gate),
// including the empty cases where a list must be [] and not null.
func TestJSONOutputsMatchTheirSchemas(t *testing.T) {
	const m = "builtin:qwen2-tiny-q4_k_m.gguf"
	dir := t.TempDir()
	ev := filepath.Join(dir, "ev")
	schemaDir := filepath.Join("..", "..", "docs", "schemas")
	runSchema := filepath.Join("..", "..", "evidence", evidence.RunSchemaFile)
	cases := []struct {
		schema string
		args   []string
		code   int
	}{
		{"models.schema.json", []string{"models", "--json"}, 0},
		{"backends.schema.json", []string{"backends", "--json"}, 0},
		{"validate.schema.json", []string{"validate", "--json"}, 0},
		{"tokenize.schema.json", []string{"tokenize", "--json", m, "What is 2+2?"}, 0},
		{"tokenize.schema.json", []string{"tokenize", "--json", m, ""}, 0},
		{"inspect.schema.json", []string{"inspect", "--json", m}, 0},
		{"inspect.schema.json", []string{"inspect", "--json", "--tensors", "no-such-*", m}, 0},
		{"convert.schema.json", []string{"convert", "--json", m, filepath.Join(dir, "m.apr")}, 0},
		{"inspect.schema.json", []string{"inspect", "--json", filepath.Join(dir, "m.apr")}, 0},
		{"trace.schema.json", []string{"trace", "--json", "-t", "2", "--tokens", "1,2,3", m}, 0},
		{"trace.schema.json", []string{"trace", "--json", "-t", "2", "--positions", "all", "--tokens", "1,2", m}, 0},
		{"trace.schema.json", []string{"trace", "--json", "-t", "2", "--positions", "all", "--logits", "last", "--tokens", "1,2", m}, 0},
		{"trace-time.schema.json", []string{"trace", "--time", "--json", "-t", "2", "--time-runs", "2", "--tokens", "1,2,3", m}, 0},
		{"diff.schema.json", []string{"diff", "--json", "-t", "2", "--tokens", "1,2", m, "builtin:qwen2-tiny-q4_k_m-as-f32.gguf"}, 0},
		{"diff.schema.json", []string{"diff", "--json", "-t", "2", "--tokens", "1,2", m, m}, 0},
		{"bench.schema.json", []string{"bench", "--json", "--no-llamacpp", "--model", m, "-t", "1", "--prompt", "2", "--gen", "1", "--rounds", "1"}, 0},
		{runSchema, []string{"run", "--json", "-t", "2", "--evidence", ev, "builtin:trace-determinism-v1"}, 0},
		{runSchema, []string{"gate", "--json", ev}, 0},
	}
	compiled := map[string]*jsonschema.Schema{}
	for _, tc := range cases {
		path := tc.schema
		if filepath.Dir(path) == "." {
			path = filepath.Join(schemaDir, path)
		}
		s, ok := compiled[path]
		if !ok {
			s = compileSchema(t, path)
			compiled[path] = s
		}
		out, errs, code := runCLI(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, errs)
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(out)))
		if err != nil {
			t.Errorf("%v: not JSON: %v\n%.300s", tc.args, err, out)
			continue
		}
		if err := s.Validate(doc); err != nil {
			t.Errorf("%v: does not match %s:\n%v", tc.args, filepath.Base(path), err)
		}
	}
	// bench interrupted before any test: rows [], interrupted and its cause.
	ctx := cancelledCtx(errors.New("interrupt signal received"))
	args := []string{"bench", "--json", "--no-llamacpp", "--model", m, "-t", "1", "--prompt", "2", "--gen", "1", "--rounds", "1"}
	if out, errs, code := runCLICtx(t, ctx, args...); code != 3 {
		t.Errorf("%v interrupted: exit %d, want 3: %s", args, code, errs)
	} else {
		validateJSON(t, compiled[filepath.Join(schemaDir, "bench.schema.json")], out)
	}
	// Every schema in docs/schemas is exercised above.
	files, _ := filepath.Glob(filepath.Join(schemaDir, "*.schema.json"))
	for _, f := range files {
		if compiled[f] == nil {
			t.Errorf("%s: no test validates an output against it", f)
		}
	}
}
