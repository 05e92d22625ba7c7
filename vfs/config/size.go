package config

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// Size units: SIZE values use powers of 1024, as mergerfs does.
const (
	KiB uint64 = 1 << 10
	MiB uint64 = 1 << 20
	GiB uint64 = 1 << 30
	TiB uint64 = 1 << 40
)

var errSize = errors.New("want SIZE: digits with an optional single B, K, M, G or T suffix (powers of 1024), e.g. 4G")

// ParseSize parses the SIZE syntax shared by minfreespace and the per-branch
// minimum: one or more decimal digits, then at most one unit letter B, K, M,
// G or T (either case, powers of 1024). Signs, spaces, fractions and values
// that overflow 64 bits are rejected.
func ParseSize(s string) (uint64, error) {
	digits := s
	mult := uint64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'b', 'B':
			digits = s[:n-1]
		case 'k', 'K':
			digits, mult = s[:n-1], KiB
		case 'm', 'M':
			digits, mult = s[:n-1], MiB
		case 'g', 'G':
			digits, mult = s[:n-1], GiB
		case 't', 'T':
			digits, mult = s[:n-1], TiB
		}
	}
	if !allDigits(digits) {
		return 0, errSize
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, errSize
	}
	hi, lo := bits.Mul64(v, mult)
	if hi != 0 {
		return 0, errSize
	}
	return lo, nil
}

// FormatSize renders n with the largest unit that divides it exactly
// ("100G", "512K"), or as plain bytes, so ParseSize(FormatSize(n)) == n.
func FormatSize(n uint64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		size   uint64
		suffix string
	}{{TiB, "T"}, {GiB, "G"}, {MiB, "M"}, {KiB, "K"}} {
		if n%u.size == 0 {
			return strconv.FormatUint(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseInt parses an optionally signed decimal integer that fits in an int.
func parseInt(s string) (int, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < math.MinInt || v > math.MaxInt {
		return 0, false
	}
	return int(v), true
}
