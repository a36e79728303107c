package contracts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Resolve expands contract references into the contracts they name, in
// order and each once. It is the one rule every entry point uses
// (validate, run, the Ginkgo suites and $FALSIFY_CONTRACTS):
//
//   - "builtin:NAME" is the embedded contract NAME (with or without .yaml);
//   - an existing file is that file;
//   - an existing directory is its *.yaml and *.yml files, sorted by name
//     (not recursive); a directory with none is an error;
//   - anything else is tried as a builtin name ("trace-determinism-v1"),
//     and is an error naming both readings when it is not one.
//
// Each reference may itself be a list separated by os.PathListSeparator
// (as $FALSIFY_CONTRACTS is). No references resolve to every builtin
// contract. The results are "builtin:FILE" or file paths, for Open.
func Resolve(refs ...string) ([]string, error) {
	var parts []string
	for _, r := range refs {
		list := filepath.SplitList(r)
		for i := 0; i < len(list); i++ {
			p := list[i]
			// "builtin:NAME" contains the separator on Unix.
			if p+":" == BuiltinPrefix && i+1 < len(list) {
				i++
				p = BuiltinPrefix + list[i]
			}
			if p != "" {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) == 0 {
		var out []string
		for _, name := range Builtin() {
			out = append(out, BuiltinPrefix+name)
		}
		return out, nil
	}
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, ref := range parts {
		if name, ok := strings.CutPrefix(ref, BuiltinPrefix); ok {
			file, err := builtinFile(name)
			if err != nil {
				return nil, err
			}
			add(BuiltinPrefix + file)
			continue
		}
		st, err := os.Stat(ref)
		switch {
		case err == nil && st.IsDir():
			var found []string
			for _, pat := range []string{"*.yaml", "*.yml"} {
				m, _ := filepath.Glob(filepath.Join(ref, pat))
				found = append(found, m...)
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("contract directory %s: no *.yaml or *.yml file in it", ref)
			}
			slices.Sort(found)
			for _, f := range found {
				add(f)
			}
		case err == nil:
			add(ref)
		case errors.Is(err, fs.ErrNotExist):
			file, berr := builtinFile(ref)
			if berr != nil {
				return nil, fmt.Errorf("contract %s: no such file or directory, and %w", ref, berr)
			}
			add(BuiltinPrefix + file)
		default:
			return nil, fmt.Errorf("contract %s: %w", ref, err)
		}
	}
	return out, nil
}

// builtinFile returns the embedded file of a builtin contract name.
func builtinFile(name string) (string, error) {
	file := name
	if !strings.HasSuffix(file, ".yaml") {
		file += ".yaml"
	}
	if !slices.Contains(Builtin(), file) {
		return "", fmt.Errorf("%w %q (builtin: %s)", ErrNoBuiltin, name, strings.Join(Builtin(), ", "))
	}
	return file, nil
}

// Open parses one contract Resolve returned: "builtin:FILE" or a path. It
// does not validate (see Check and Validate).
func Open(ref string) (*Contract, error) {
	if strings.HasPrefix(ref, BuiltinPrefix) {
		return LoadBuiltin(ref)
	}
	return Load(ref)
}
