package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/mfs-union/mfs/vfs"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "show which branch each function's policy picks for PATH, and why every other branch was passed over",
		ArgsUsage: "BRANCHES PATH",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "o", Usage: "mergerfs options, e.g. -o category.create=mfs,minfreespace=10G (repeatable)"},
			&cli.BoolFlag{Name: "json", Usage: "print the explanation as JSON"},
			&cli.StringFlag{Name: "func", Usage: "only these functions (comma-separated), e.g. create,mkdir"},
		},
		Action: func(c *cli.Context) error {
			if err := rejectStrayFlags(c); err != nil {
				return usageError{err}
			}
			if c.NArg() != 2 {
				return usagef("usage: mfs explain BRANCHES PATH [-o OPTIONS] [--json] (got %d arguments)", c.NArg())
			}
			opts, err := parseOptions(c.Args().Get(0), c.StringSlice("o"))
			if err != nil {
				return err
			}
			for _, b := range opts.Branches {
				if fi, err := os.Stat(b.Path); err != nil || !fi.IsDir() {
					fmt.Fprintf(c.App.ErrWriter, "mfs: warning: branch %s is not a directory that exists; it is passed over\n", b.Path)
				}
			}
			pool, err := vfs.New(opts, vfs.Settings{})
			if err != nil {
				return err
			}
			defer pool.Close()
			rel := strings.Trim(c.Args().Get(1), "/")
			exps := pool.Explain(rel)
			if only := c.String("func"); only != "" {
				exps, err = filterFuncs(exps, only)
				if err != nil {
					return err
				}
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(exps)
			}
			printExplain(c.App.Writer, exps)
			return nil
		},
	}
}

func filterFuncs(exps []vfs.Explanation, list string) ([]vfs.Explanation, error) {
	var out []vfs.Explanation
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, e := range exps {
			if e.Func == name {
				out = append(out, e)
				found = true
			}
		}
		if !found {
			var names []string
			for _, e := range exps {
				names = append(names, e.Func)
			}
			return nil, usagef("--func: unknown function %q; valid: %s", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// printExplain prints one block per group of functions with the same
// policy run and outcome: the policy, the outcome and a line per branch.
func printExplain(w io.Writer, exps []vfs.Explanation) {
	type group struct {
		funcs []string
		e     vfs.Explanation
		key   string
	}
	var groups []*group
	for _, e := range exps {
		k, _ := json.Marshal(struct {
			P, B, Path, Err string
			C               []int
			V               []vfs.Verdict
			Cl              []string
		}{e.Policy, e.Behaviour, e.Path, e.Errno, e.Chosen, e.Branches, e.Climbed})
		found := false
		for _, g := range groups {
			if g.key == string(k) {
				g.funcs = append(g.funcs, e.Func)
				found = true
				break
			}
		}
		if !found {
			groups = append(groups, &group{funcs: []string{e.Func}, e: e, key: string(k)})
		}
	}
	for _, g := range groups {
		e := g.e
		outcome := "picks " + branchList(e)
		if e.Random {
			outcome = "picks one at random (chances below)"
		}
		if e.Errno != "" {
			outcome = "fails: " + e.Errno
		}
		fmt.Fprintf(w, "\n%s: %s policy %q on %s %s\n", strings.Join(g.funcs, ", "), e.Behaviour, e.Policy, e.Path, outcome)
		if len(e.Climbed) > 0 {
			fmt.Fprintf(w, "  climbed to %s\n", strings.Join(e.Climbed, ", "))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, b := range e.Branches {
			mark := "  "
			why := b.Reason
			if b.Chosen {
				mark, why = "->", "chosen"
			}
			if e.Random && b.Chance > 0 {
				mark, why = "->", fmt.Sprintf("candidate, %.0f%% chance", b.Chance*100)
			}
			if why == "" {
				why = "-"
			}
			if b.Reason == "below minfreespace" {
				why = fmt.Sprintf("%s (%s free < %s)", why, humanBytes(b.Avail), humanBytes(b.MinFree))
			}
			exists := "exists"
			if !b.Exists {
				exists = "missing"
			}
			fmt.Fprintf(tw, "  %s\t%s=%s\t%s free\t%s\t%s\n", mark, b.Path, b.Mode, humanBytes(b.Avail), exists, why)
		}
		tw.Flush()
	}
}

func branchList(e vfs.Explanation) string {
	var ps []string
	for _, i := range e.Chosen {
		ps = append(ps, e.Branches[i].Path)
	}
	if len(ps) == 0 {
		return "nothing"
	}
	return strings.Join(ps, ", ")
}

// humanBytes formats a byte count with binary units, e.g. "79.6 GiB".
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
