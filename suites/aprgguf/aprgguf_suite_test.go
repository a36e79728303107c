package aprgguf

import (
	"testing"

	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = framework.DescribeContract("apr-vs-gguf-forward-parity-v1")

func TestAPRvsGGUFForwardParity(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "apr-vs-gguf-forward-parity-v1")
}
