package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/falsify/falsify/harness"
	"github.com/falsify/falsify/internal/builtin"
	"github.com/falsify/falsify/internal/digest"
)

func init() {
	register("cache", "show or clean the cache (builtin models, APR conversions, model digests)", runCache)
}

func runCache(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cache", "cache [--all] [list|clean]\n\n"+
		"The cache holds the builtin models written out for the engine to map, the\n"+
		"APR conversions of GGUF subjects (keyed by the GGUF file's SHA-256, so a model\n"+
		"converts once however often it is touched or renamed), and the SHA-256 digests of\n"+
		"model files, each kept while the file's inode, size, mtime and ctime are unchanged,\n"+
		"so a model is not read again to be hashed on every run, and the models 'falsify bench'\n"+
		"generates. Its directory is $FALSIFY_CACHE, else the user cache directory's falsify/.\n"+
		"list (default) prints each part's size; clean removes the APR conversions, digests and\n"+
		"bench models (with --all, the builtin models too: they are rewritten on next use).", stderr)
	all := fs.Bool("all", false, "clean: remove the builtin models too")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	action := "list"
	if len(pos) == 1 {
		action = pos[0]
	} else if len(pos) > 1 {
		return usagef("cache takes one action, got %d arguments", len(pos))
	}
	root := filepath.Dir(builtin.CacheDir())
	parts := []struct{ name, dir string }{
		{"conversions", harness.ConvertedDir(root)},
		{"digests", digest.Dir()},
		{"bench models", benchDir()},
		{"builtin models", builtin.CacheDir()},
	}
	switch action {
	case "list":
		fmt.Fprintf(stdout, "cache: %s\n", root)
		for _, p := range parts {
			files, bytes, err := dirUsage(p.dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "  %-15s %4d files %10s  %s\n", p.name, files, humanBytes(uint64(bytes)), p.dir)
		}
		return nil
	case "clean":
		for i, p := range parts {
			if i == len(parts)-1 && !*all {
				break
			}
			files, bytes, err := dirUsage(p.dir)
			if err != nil {
				return err
			}
			if err := os.RemoveAll(p.dir); err != nil {
				return fmt.Errorf("cache clean: %w", err)
			}
			fmt.Fprintf(stdout, "removed %s: %d files, %s (%s)\n", p.name, files, humanBytes(uint64(bytes)), p.dir)
		}
		return nil
	}
	return usagef("cache: unknown action %q (want list or clean)", action)
}

// dirUsage counts the files under dir and their bytes, lock files aside
// (0 for a directory that does not exist).
func dirUsage(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() && filepath.Ext(p) != ".lock" { // lock files are empty
			info, err := d.Info()
			if err != nil {
				return err
			}
			files++
			bytes += info.Size()
		}
		return nil
	})
	return files, bytes, err
}
