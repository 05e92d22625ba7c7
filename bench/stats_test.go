package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func seq(lo, hi int64) []int64 {
	var s []int64
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

func TestPercentileKnownDistributions(t *testing.T) {
	tests := []struct {
		name string
		data []int64
		p    float64
		want int64
	}{
		{"uniform 1..100 p50", seq(1, 100), 50, 50},
		{"uniform 1..100 p95", seq(1, 100), 95, 95},
		{"uniform 1..100 p99", seq(1, 100), 99, 99},
		{"uniform 1..100 p100", seq(1, 100), 100, 100},
		{"uniform 1..1000 p99", seq(1, 1000), 99, 990},
		{"uniform 1..1000 p99.9", seq(1, 1000), 99.9, 999},
		{"uniform 1..10 p95 rounds up to the 10th", seq(1, 10), 95, 10},
		{"uniform 1..10 p50", seq(1, 10), 50, 5},
		{"single sample", []int64{7}, 99, 7},
		{"two samples p50", []int64{3, 9}, 50, 3},
		{"two samples p51", []int64{3, 9}, 51, 9},
		{"p0 is the minimum", seq(5, 9), 0, 5},
		{"empty", nil, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.data, tt.p); got != tt.want {
				t.Errorf("Percentile(%v.., p%g) = %d, want %d", head(tt.data), tt.p, got, tt.want)
			}
		})
	}
}

func head(s []int64) []int64 {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// The seed computed index = n*p/100 (no -1), so p50 of 1..100 gave 51 and
// p99 of 1..100 gave 100, and it also called the mean a percentile.
// Nearest rank gets both right; a mean is no percentile of a skewed set.
func TestPercentileIsNotTheSeedsAndNotAMean(t *testing.T) {
	s := seq(1, 100)
	if Percentile(s, 50) == 51 || Percentile(s, 99) == 100 {
		t.Fatalf("off-by-one percentile (the seed's index = n*p/100)")
	}
	// Skewed: 99 fast ops and one very slow one.
	skew := append(make([]int64, 0, 100), seq(1, 99)...)
	skew = append(skew, 1_000_000)
	l := Summarize(skew)
	mean := 0.0
	for _, x := range skew {
		mean += float64(x)
	}
	mean /= float64(len(skew))
	if l.P50 != 50 || l.P95 != 95 || l.P99 != 99 || l.Max != 1_000_000 {
		t.Errorf("Summarize(skewed) = %+v, want p50 50, p95 95, p99 99, max 1e6", l)
	}
	if float64(l.P50) == mean {
		t.Errorf("p50 equals the mean %g", mean)
	}
}

// A large sample of a known continuous distribution: the percentiles of
// 100,000 draws from Exp(1) lie near -ln(1-p).
func TestSummarizeExponential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s []int64
	for i := 0; i < 100000; i++ {
		s = append(s, int64(r.ExpFloat64()*1e6)) // µs scale, in ns
	}
	orig := slices.Clone(s)
	l := Summarize(s)
	for _, c := range []struct {
		name string
		got  int64
		p    float64
	}{{"p50", l.P50, 0.50}, {"p95", l.P95, 0.95}, {"p99", l.P99, 0.99}} {
		want := -math.Log(1-c.p) * 1e6
		if rel := math.Abs(float64(c.got)-want) / want; rel > 0.05 {
			t.Errorf("%s = %d, want %.0f ±5%%", c.name, c.got, want)
		}
	}
	if l.N != 100000 || l.Min > l.P50 || l.P99 > l.Max {
		t.Errorf("Summarize: %+v", l)
	}
	if !slices.Equal(orig, s) {
		t.Errorf("Summarize reordered its input")
	}
}

func TestMedianSpreadNoise(t *testing.T) {
	tests := []struct {
		xs               []float64
		median, min, max float64
		noisy15          bool
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, true},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, true},
		{[]float64{1.0, 1.2, 1.4}, 1.2, 1, 1.4, false},
		{[]float64{5}, 5, 5, 5, false},
	}
	for _, tt := range tests {
		s := Median(tt.xs)
		if s.Median != tt.median || s.Min != tt.min || s.Max != tt.max || s.N != len(tt.xs) {
			t.Errorf("Median(%v) = %+v, want median %g [%g–%g]", tt.xs, s, tt.median, tt.min, tt.max)
		}
		if got := s.Noisy(1.5); got != tt.noisy15 {
			t.Errorf("Median(%v).Noisy(1.5) = %v, want %v", tt.xs, got, tt.noisy15)
		}
	}
	if (Median(nil) != Spread{}) {
		t.Errorf("Median(nil) = %+v", Median(nil))
	}
}

// ratio = mode time / reference time: a mode that takes longer has a
// ratio above 1 (the seed inverted this).
func TestRatioDirection(t *testing.T) {
	if r := Ratio(3, 1); r != 3 {
		t.Errorf("Ratio(slower 3s, native 1s) = %g, want 3", r)
	}
	if r := Ratio(0.5, 1); r != 0.5 {
		t.Errorf("Ratio(faster 0.5s, native 1s) = %g, want 0.5", r)
	}
	if r := Ratio(1, 0); r != 0 {
		t.Errorf("Ratio with no reference = %g, want 0", r)
	}
	if th := Throughput(1000, 2*time.Second); th != 500 {
		t.Errorf("Throughput(1000 in 2s) = %g", th)
	}
}

func TestCDFPoints(t *testing.T) {
	s := seq(1, 1000)
	pts := cdfPoints(s, 50)
	if len(pts) > 51 || len(pts) < 10 {
		t.Fatalf("cdfPoints: %d points, want about 50", len(pts))
	}
	if pts[0] != [2]float64{1, 0.001} || pts[len(pts)-1] != [2]float64{1000, 1} {
		t.Errorf("cdfPoints ends: %v .. %v", pts[0], pts[len(pts)-1])
	}
	for i := 1; i < len(pts); i++ {
		if pts[i][0] < pts[i-1][0] || pts[i][1] <= pts[i-1][1] {
			t.Fatalf("cdfPoints not monotonic at %d: %v %v", i, pts[i-1], pts[i])
		}
	}
	if cdfPoints(nil, 10) != nil {
		t.Errorf("cdfPoints(nil) not nil")
	}
}
