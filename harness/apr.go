package harness

import (
	"context"
	"fmt"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/gguf"
)

// convertGGUFToAPR converts as aprender's importer does (apr.FromGGUF).
func convertGGUFToAPR(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := gguf.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	w, _, err := apr.FromGGUF(f)
	if err != nil {
		return err
	}
	if _, err := w.WriteFile(dst); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}
