package golden

import (
	"testing"

	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = framework.DescribeContract("engine-vs-llamacpp-golden-v1")

func TestEngineVsLlamaCppGolden(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "engine-vs-llamacpp-golden-v1")
}
