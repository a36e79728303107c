//go:build !amd64 || purego

package trace

// useStatsAVX is false: ComputeStats runs its Go loops.
const useStatsAVX = false

// useStats512 is false (a variable only so that tests and benchmarks can
// toggle it on every build).
var useStats512 = false

func computeStatsAVX(v []float32) Stats { return computeStatsGo(v) }

func computeStatsPairAVX(a, b []float32) (Stats, Stats) { return computeStatsGo(a), computeStatsGo(b) }

func computeStatsLanes(dst []Stats, vs [][]float32) {
	for i, v := range vs {
		dst[i] = computeStatsGo(v)
	}
}
