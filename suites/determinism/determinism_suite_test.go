package determinism

import (
	"testing"

	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = framework.DescribeContract("trace-determinism-v1")

func TestTraceDeterminism(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "trace-determinism-v1")
}
