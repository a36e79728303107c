package contracts

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateFindings = flag.Bool("update-findings", false, "rewrite testdata/findings/*.txt from the validator's output")

// TestFindingsGolden pins every finding (line, column, rule, message, in
// order) of the contracts under testdata/findings against the .txt file
// beside each: the paths, indexes and positions of messages about list
// and named blocks (falsification_tests[1], subjects.a.threads) that
// TestRules' one-marker files do not cover. After a deliberate change of
// wording, rewrite with -update-findings and review the diff.
func TestFindingsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/findings/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/findings/*.yaml")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var b strings.Builder
			for _, f := range validateFile(t, path) {
				fmt.Fprintf(&b, "%d:%d: %s: %s: %s\n", f.Line, f.Column, f.Severity, f.Rule, f.Message)
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".txt"
			if *updateFindings {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (create it with -update-findings)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("findings of %s differ from %s:\ngot:\n%swant:\n%s", path, golden, got, want)
			}
		})
	}
}
