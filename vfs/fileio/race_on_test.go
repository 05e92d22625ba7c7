//go:build race

package fileio

// raceEnabled: the race detector makes sync.Pool drop a random quarter of
// its Puts, so allocation budgets do not hold.
const raceEnabled = true
