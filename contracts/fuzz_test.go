package contracts

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse, Validate or Order panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	builtin, _ := filepath.Glob("*.yaml")
	for _, p := range append(files, builtin...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		Validate(c)
		c.Order()
		c.UsedSubjects()
	})
}
