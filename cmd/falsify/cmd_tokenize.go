package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/falsify/falsify/engine"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/tokenizer"
)

func init() {
	register("tokenize", "print the token ids and pieces of a text under a model's tokenizer", runTokenize)
}

// tokenizeStdin is where tokenize reads text when no TEXT or --file is
// given (a variable so tests can replace it).
var tokenizeStdin io.Reader = os.Stdin

// tokenizeResult is what --json prints.
type tokenizeResult struct {
	IDs    []int32  `json:"ids"`
	Pieces []string `json:"pieces"`
}

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", "tokenize [--json] [--add-special] [--parse-special] [--file PATH] MODEL [TEXT]\n\n"+
		"MODEL is a .gguf or .apr file or builtin:NAME (see 'falsify models').\n"+
		"Text comes from TEXT, from --file PATH, or else from standard input, byte for byte\n"+
		"(a trailing newline is part of the text). Output: one line per token, the id and\n"+
		"the piece as a Go-quoted string; --json prints {\"ids\": [...], \"pieces\": [...]}\n"+
		"(pieces that are part of a UTF-8 sequence only show as U+FFFD there).", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	addSpecial := fs.Bool("add-special", false, "add BOS/EOS where the model's tokenizer asks for them")
	parseSpecial := fs.Bool("parse-special", false, "recognize special tokens such as <|im_start|> in the text")
	file := fs.String("file", "", "read the text from `PATH` (- for standard input)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("tokenize takes a model file and at most one text, got %d arguments", len(pos))
	}
	if len(pos) == 2 && *file != "" {
		return usagef("tokenize: give the text as an argument or with --file, not both")
	}
	text, err := tokenizeText(pos[1:], *file)
	if err != nil {
		return err
	}
	model, err := modelArg(pos[0])
	if err != nil {
		return err
	}
	tok, err := loadTokenizer(model)
	if err != nil {
		return err
	}
	ids := tok.Encode(text, tokenizer.EncodeOptions{AddSpecial: *addSpecial, ParseSpecial: *parseSpecial})
	if ids == nil {
		ids = []int32{} // an empty text is [] in JSON, not null
	}
	res := tokenizeResult{IDs: ids, Pieces: make([]string, len(ids))}
	for i, id := range ids {
		res.Pieces[i] = tok.Piece(id)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	var b strings.Builder
	for i, id := range res.IDs {
		fmt.Fprintf(&b, "%6d %q\n", id, res.Pieces[i])
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// tokenizeText returns the text to tokenize: the argument, the file, or
// standard input, unchanged.
func tokenizeText(arg []string, file string) (string, error) {
	switch {
	case len(arg) == 1:
		return arg[0], nil
	case file != "" && file != "-":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("tokenize: read text: %w", err)
		}
		return string(b), nil
	}
	b, err := io.ReadAll(tokenizeStdin)
	if err != nil {
		return "", fmt.Errorf("tokenize: read standard input: %w", err)
	}
	return string(b), nil
}

// loadTokenizer returns the tokenizer of the model file at path. It is the
// one place that knows model formats here (APR comes with the engine's
// loader).
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".gguf":
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		tok, err := tokenizer.FromGGUF(f.Metadata)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return tok, nil
	case ".apr":
		// The APR tokenizer keys are read the way the engine reads them.
		m, err := engine.Load(path)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		return m.Tokenizer()
	default:
		return nil, usagef("%s: unknown model format %q (tokenize reads .gguf and .apr)", path, ext)
	}
}
