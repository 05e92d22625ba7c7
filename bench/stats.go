package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest sample such that at least p% of all
// samples are less than or equal to it, i.e. sorted[ceil(p/100*n)-1]. It is
// always one of the recorded samples, never an interpolation or a mean.
// sorted must be in ascending order; an empty slice yields 0.
func Percentile(sorted []int64, p float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// The small epsilon keeps p*n that is an exact integer in theory (e.g.
	// 95*100/100) from rounding up by floating-point error.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Latency is a distribution summary of per-operation latencies, in
// nanoseconds, computed from every recorded operation.
type Latency struct {
	N   int   `json:"n"`
	Min int64 `json:"min_ns"`
	P50 int64 `json:"p50_ns"`
	P95 int64 `json:"p95_ns"`
	P99 int64 `json:"p99_ns"`
	Max int64 `json:"max_ns"`
}

// Summarize sorts a copy of samples and returns its percentiles.
func Summarize(samples []int64) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return Latency{
		N:   len(s),
		Min: s[0],
		P50: Percentile(s, 50),
		P95: Percentile(s, 95),
		P99: Percentile(s, 99),
		Max: s[len(s)-1],
	}
}

// Spread is the median of K per-run figures with their minimum and maximum.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Median returns the median of xs (the mean of the two middle values for an
// even count) with the minimum and maximum. An empty input yields N == 0.
func Median(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[n-1], N: n}
}

// Noisy reports whether the runs disagree by more than threshold (max/min),
// e.g. 1.5: the median is then less trustworthy and the report flags it. A
// single run cannot be judged and is never noisy.
func (s Spread) Noisy(threshold float64) bool {
	if s.N < 2 || s.Min <= 0 {
		return false
	}
	return s.Max/s.Min > threshold
}

// Ratio is a mode's time divided by the reference's time (native or
// mergerfs): 2.0 means the mode took twice as long, 0.5 half as long. It is
// 0 when either figure is missing.
func Ratio(modeTime, refTime float64) float64 {
	if modeTime <= 0 || refTime <= 0 {
		return 0
	}
	return modeTime / refTime
}

// Throughput returns units per second for a workload of units done in wall.
func Throughput(units float64, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return units / wall.Seconds()
}

// cdfPoints reduces sorted samples to at most max (latency, fraction ≤)
// points for a CDF plot, always keeping the first and last sample.
func cdfPoints(sorted []int64, max int) [][2]float64 {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	if max < 2 {
		max = 2
	}
	step := 1
	if n > max {
		step = (n + max - 2) / (max - 1)
	}
	var out [][2]float64
	for i := 0; i < n; i += step {
		out = append(out, [2]float64{float64(sorted[i]), float64(i+1) / float64(n)})
	}
	if last := out[len(out)-1]; last[1] != 1 {
		out = append(out, [2]float64{float64(sorted[n-1]), 1})
	}
	return out
}
