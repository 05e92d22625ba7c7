// Command testmain is a stand-in for the mfs binary in bench's end-to-end
// test while cmd/mfs does not yet list `mfs bench`: it offers the same two
// entry points, `bench` and the hidden worker, with the standard flag
// package. Once cmd/mfs has benchCommand, the test uses the real binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mfs-union/mfs/bench"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testmain bench [flags] | testmain "+bench.WorkerCommand+" [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "bench":
		os.Exit(benchMain(os.Args[2:]))
	case bench.WorkerCommand:
		os.Exit(workerMain(os.Args[2:]))
	}
	fmt.Fprintf(os.Stderr, "testmain: unknown command %q\n", os.Args[1])
	os.Exit(2)
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, bench.ParseList(s)...); return nil }

func benchMain(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var cfg bench.Config
	var modes string
	var opts listFlag
	fs.StringVar(&cfg.Scenarios, "scenarios", "", "")
	fs.StringVar(&modes, "modes", strings.Join(bench.DefaultModes, ","), "")
	fs.IntVar(&cfg.Branches, "branches", 3, "")
	fs.IntVar(&cfg.Runs, "runs", 0, "")
	fs.BoolVar(&cfg.Quick, "quick", false, "")
	fs.StringVar(&cfg.JSON, "json", "", "")
	fs.StringVar(&cfg.HTML, "html", "", "")
	fs.StringVar(&cfg.Pin, "pin", "", "")
	fs.StringVar(&cfg.Dir, "dir", "/var/tmp", "")
	fs.Var(&opts, "o", "")
	fs.Float64Var(&cfg.Noise, "noise", 1.5, "")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "")
	fs.BoolVar(&cfg.Keep, "keep", false, "")
	fs.StringVar(&cfg.MFS, "mfs", "", "")
	fs.StringVar(&cfg.Mergerfs, "mergerfs", "", "")
	list := fs.Bool("list", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		bench.PrintCatalogue(os.Stdout)
		return 0
	}
	cfg.Modes = bench.ParseList(modes)
	cfg.Options = opts
	cfg.Args = append([]string{"mfs", "bench"}, args...)
	cfg.MFSVersion = "testmain"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.Run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		var u *bench.UsageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

func workerMain(args []string) int {
	fs := flag.NewFlagSet(bench.WorkerCommand, flag.ContinueOnError)
	var a bench.WorkerArgs
	fs.StringVar(&a.Scenario, "scenario", "", "")
	fs.StringVar(&a.Dir, "dir", "", "")
	fs.StringVar(&a.Aux, "aux", "", "")
	fs.StringVar(&a.Shared, "shared", "", "")
	fs.BoolVar(&a.Standalone, "standalone", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := bench.Worker(context.Background(), a, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "mfs: %v\n", err)
		return 1
	}
	return 0
}
