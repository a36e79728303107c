// Package aprgguf runs contract apr-vs-gguf-forward-parity-v1: the APR and
// GGUF forms of one model must give per-layer statistics within Q4_K
// tolerance, on matched samples.
//
//	ginkgo --focus FALSIFY-APR-GGUF-PARITY-002 ./suites/...
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
