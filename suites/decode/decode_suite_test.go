package decode

import (
	"testing"

	"github.com/falsify/falsify/suites/framework"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = framework.DescribeContract("decode-path-parity-v1")

func TestDecodePathParity(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "decode-path-parity-v1")
}
