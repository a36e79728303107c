package custom

import (
	"os"
	"testing"

	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = func() bool {
	files, err := framework.ContractFiles(os.Getenv("FALSIFY_CONTRACTS"))
	switch {
	case err != nil:
		Describe("FALSIFY_CONTRACTS", func() { It("lists contract files", func() { Fail(err.Error()) }) })
	case len(files) == 0:
		Describe("user contracts", func() {
			It("runs the contracts named by FALSIFY_CONTRACTS", func() {
				Skip("FALSIFY_CONTRACTS is not set: no user contracts to run (the builtin ones have their own suites)")
			})
		})
	}
	for _, f := range files {
		framework.DescribeContract(f)
	}
	return true
}()

func TestUserContracts(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "user contracts")
}
