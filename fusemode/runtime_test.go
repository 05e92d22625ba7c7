package fusemode

import "testing"

func TestServerGODEBUG(t *testing.T) {
	for _, tc := range []struct {
		cur, want string
		change    bool
	}{
		{"", "schedtrace=2147483647", true},
		{"madvdontneed=1", "madvdontneed=1,schedtrace=2147483647", true},
		{"schedtrace=1000", "schedtrace=1000", false},
		{"gctrace=1, schedtrace=5", "gctrace=1, schedtrace=5", false},
	} {
		got, change := ServerGODEBUG(tc.cur)
		if got != tc.want || change != tc.change {
			t.Errorf("ServerGODEBUG(%q) = %q, %v; want %q, %v", tc.cur, got, change, tc.want, tc.change)
		}
	}
}
