package live

import (
	"testing"

	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = framework.DescribeContract("engine-vs-llamacpp-live-v1")

func TestEngineVsLlamaCppLive(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "engine-vs-llamacpp-live-v1")
}
