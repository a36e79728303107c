package contracts

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var builtinFS embed.FS

// ErrNoBuiltin is returned by LoadBuiltin for a name that is not embedded.
var ErrNoBuiltin = errors.New("no such builtin contract")

// BuiltinPrefix marks a path as an embedded contract or model.
const BuiltinPrefix = "builtin:"

// Builtin lists the embedded contracts' file names, sorted
// ("apr-vs-gguf-forward-parity-v1.yaml", ...).
func Builtin() []string {
	entries, _ := fs.ReadDir(builtinFS, ".")
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// BuiltinFS returns the embedded contract files.
func BuiltinFS() fs.FS { return builtinFS }

// LoadBuiltin parses the embedded contract name, given as a file name or
// contract id, with or without the "builtin:" prefix. The contract's Path
// is "builtin:FILE".
func LoadBuiltin(name string) (*Contract, error) {
	file := strings.TrimPrefix(name, BuiltinPrefix)
	if !strings.HasSuffix(file, ".yaml") {
		file += ".yaml"
	}
	data, err := builtinFS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load contract %s%s: %w (builtin: %s)", BuiltinPrefix, file, ErrNoBuiltin, strings.Join(Builtin(), ", "))
	}
	return Parse(BuiltinPrefix+file, data)
}

// LoadAllBuiltin parses every embedded contract.
func LoadAllBuiltin() ([]*Contract, error) {
	var out []*Contract
	for _, name := range Builtin() {
		c, err := LoadBuiltin(name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
