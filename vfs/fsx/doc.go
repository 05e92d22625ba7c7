// Package fsx is an fsx-style data-integrity tester: it applies a seeded
// random sequence of operations (writes, reads, truncates, hole punching,
// zero ranges, mmap reads and writes, copy_file_range, appends, reopens,
// fsync) to a file through a real path and checks the file against an
// in-memory model after every operation. Pointed at a plain directory it
// checks itself against Linux; pointed at an mfs mount, or run as a workload
// under `mfs run`, it checks the front end.
//
// A failure reports the seed, the operation number and the last operations,
// so `Run(Config{Seed: s, Ops: n})` reproduces it exactly.
package fsx
