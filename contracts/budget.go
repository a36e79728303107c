package contracts

import (
	"bytes"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxExpandedNodes bounds the size of a contract's YAML once aliases and
// merge keys are expanded. The builtin contracts have a few hundred nodes;
// a "billion laughs" document (aliases of aliases, or nested merge keys)
// grows exponentially and is refused before anything walks it expanded.
const maxExpandedNodes = 100_000

// checkExpansion walks the document once, counting the nodes it would have
// with every alias and merge key expanded (each node's size memoized, so
// the walk is linear in the written nodes), and reports an alias or merge
// key that refers to a node containing itself (a cycle) or an expansion
// past maxExpandedNodes, with the line it happens at. It returns false
// when the document must not be decoded further.
func checkExpansion(d *decoder, root *yaml.Node) bool {
	memo := map[*yaml.Node]int{}
	onPath := map[*yaml.Node]bool{}
	failed := false
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n == nil || failed {
			return 0
		}
		if s, ok := memo[n]; ok {
			return s
		}
		if onPath[n] {
			return 0 // reported by the alias that closed the cycle
		}
		total := 1
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1
			}
			if onPath[n.Alias] {
				failed = true
				d.errorf(posOf(n), RuleYAMLAliasCycle, "alias *%s refers to a node that contains it (%s at line %d); expanding it never ends",
					n.Value, aliasUse(n), n.Alias.Line)
				return 0
			}
			onPath[n] = true
			total += size(n.Alias)
			delete(onPath, n)
		} else {
			onPath[n] = true
			for _, c := range n.Content {
				total += size(c)
				if failed {
					break
				}
			}
			delete(onPath, n)
		}
		if !failed && total > maxExpandedNodes {
			failed = true
			d.errorf(posOf(n), RuleYAMLBudget, "expanding the aliases and merge keys here makes more than %d YAML nodes; a contract is hand-written text, not an alias bomb", maxExpandedNodes)
		}
		memo[n] = total
		return total
	}
	size(root)
	return !failed
}

func aliasUse(n *yaml.Node) string {
	if n.Alias != nil && n.Alias.Anchor != "" {
		return "anchor &" + n.Alias.Anchor
	}
	return "its anchor"
}

// checkEncoding finds text YAML cannot read as the author meant: UTF-16
// without a byte order mark (NUL bytes), and bytes that are not UTF-8
// (Latin-1 or Windows-1252 files), with the line and column of the first
// offending byte. UTF-16 with a byte order mark is read (libyaml
// transcodes it) with a warning, since other tools may not; a UTF-8 byte
// order mark is fine. It returns false when the bytes must not be parsed.
func checkEncoding(d *decoder, data []byte) bool {
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		d.warnf(Pos{Line: 1}, RuleEncoding, "the file is UTF-16 (it starts with a byte order mark); falsify reads it, but save it as UTF-8 so every tool does")
		return true
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == 0:
			d.errorf(Pos{Line: line, Column: col}, RuleEncoding, "NUL byte at line %d column %d: the file is UTF-16 without a byte order mark, or binary; save it as UTF-8", line, col)
			return false
		case r == utf8.RuneError && n <= 1:
			d.errorf(Pos{Line: line, Column: col}, RuleEncoding, "byte 0x%02X at line %d column %d is not UTF-8 (a Latin-1 or Windows-1252 file?); save the file as UTF-8", data[i], line, col)
			return false
		case r == '\n':
			line, col = line+1, 0
		}
		i += n
		col++
	}
	return true
}
