package contracts

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadExpansion marks a malformed ${...} in a subject's model or golden.
var ErrBadExpansion = errors.New("bad ${VAR:-default} expansion")

// Expand replaces each ${VAR} and ${VAR:-default} in s: ${VAR} by VAR's
// value ("" when unset), ${VAR:-default} by VAR's value when it is set and
// non-empty, else by default (taken literally; it cannot contain "}"). A
// "$" not followed by "{" stays as it is. lookup may be nil: every
// variable is then unset, which gives the defaults.
//
// This is the shell's syntax restricted to the two forms contracts use;
// os.Expand is not used because it knows no defaults.
func Expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", fmt.Errorf("%w: unclosed \"${\" in %q", ErrBadExpansion, s)
		}
		body := rest[:end]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validVarName(name) {
			return "", fmt.Errorf("%w: %q is not a variable name (in %q)", ErrBadExpansion, name, s)
		}
		var val string
		var set bool
		if lookup != nil {
			val, set = lookup(name)
		}
		switch {
		case set && val != "":
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		}
		s = rest[end+1:]
	}
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Vars lists the variable names s refers to with ${VAR} or ${VAR:-...},
// in order (malformed references are left out; Expand reports them).
func Vars(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return out
		}
		if name, _, _ := strings.Cut(rest[:end], ":-"); validVarName(name) {
			out = append(out, name)
		}
		s = rest[end+1:]
	}
}
