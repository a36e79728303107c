package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/falsify/falsify/internal/builtin"
)

func init() {
	register("models", "list the builtin models and goldens (usable as builtin:NAME wherever a model goes)", runModels)
}

// builtinPrefix marks a builtin model in a model argument.
const builtinPrefix = "builtin:"

// builtinAbout says what each builtin is, for `falsify models`.
var builtinAbout = map[string]string{
	"qwen2-tiny-q4_k_m.gguf":        "tiny qwen2 model (4 layers), Q4_K_M as llama-quantize wrote it",
	"qwen2-tiny-q4_k_m.golden":      "llama.cpp's traced forward pass on qwen2-tiny-q4_k_m.gguf (golden trace)",
	"qwen2-tiny-q4_k_m-as-f32.gguf": "the same weights dequantized and stored as F32",
}

// builtinModel is one row of `falsify models --json`
// (docs/schemas/models.schema.json).
type builtinModel struct {
	Ref    string `json:"ref"`
	Kind   string `json:"kind"`
	About  string `json:"about"`
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", "models [--json]\n\n"+
		"Lists the models and golden traces embedded in the binary. Each works wherever a\n"+
		"model file does (inspect, tokenize, trace, diff, convert, run --set, a contract's\n"+
		"model:) as builtin:NAME. They are written to the cache (FALSIFY_CACHE) on first use.", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("models takes no arguments, got %d", len(pos))
	}
	list := []builtinModel{}
	for _, name := range builtin.Names() {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := builtin.Path(name)
		if err != nil {
			return err
		}
		m := builtinModel{Ref: builtinPrefix + name, Kind: "model", About: builtinAbout[name], Path: p}
		if strings.HasSuffix(name, ".golden") {
			m.Kind = "golden"
		}
		if m.Bytes, m.SHA256, err = fileDigest(p); err != nil {
			return err
		}
		list = append(list, m)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSIZE\tSHA256\tABOUT")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Ref, m.Kind, humanBytes(uint64(m.Bytes)), m.SHA256[:12], m.About)
	}
	return tw.Flush()
}

// fileDigest returns a file's size and hex SHA-256.
func fileDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// modelArg turns a model argument into a file path: builtin:NAME is
// written to the cache and its path returned; anything else is a path.
func modelArg(ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, builtinPrefix)
	if !ok {
		return ref, nil
	}
	if !slices.Contains(builtin.Names(), name) {
		return "", usagef("%s: no such builtin (have: %s; see 'falsify models')", ref, strings.Join(builtin.Names(), ", "))
	}
	return builtin.Path(name)
}
