// Package determinism runs contract trace-determinism-v1: traces are
// bit-identical across runs and thread counts, and tracing changes no bit.
package determinism

import (
	"testing"

	"github.com/falsify/falsify/suites/framework"
)

var _ = framework.DescribeContract("trace-determinism-v1")

func TestTraceDeterminism(t *testing.T) {
	framework.Run(t, "trace-determinism-v1")
}
