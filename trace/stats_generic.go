//go:build !amd64 || purego

package trace

// useStatsAVX is false: ComputeStats runs its Go loops.
const useStatsAVX = false

func computeStatsAVX(v []float32) Stats { return computeStatsGo(v) }

func computeStatsPairAVX(a, b []float32) (Stats, Stats) { return computeStatsGo(a), computeStatsGo(b) }
