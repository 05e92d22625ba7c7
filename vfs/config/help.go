package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mfs-union/mfs/vfs/policy"
)

// Help returns the option reference printed by `mfs options` and `--help`,
// generated from the table: every listed option with its value form,
// default, marks and meaning, then the compatibility spellings, the no-ops
// and the mount pass-through words.
func Help() string {
	var b strings.Builder
	b.WriteString("Options are given as -o key=value[,key=value...] or one per line in a config= file.\n")
	b.WriteString("'_' and '-' are interchangeable in keys; later options override earlier ones.\n")
	b.WriteString("Marks: [ro] cannot be changed at runtime (the control file returns EROFS);\n")
	b.WriteString("       [mount] only the FUSE mount front end can honour it.\n")
	b.WriteString("Value forms:\n")
	for _, f := range formLong {
		b.WriteString(fmt.Sprintf("  %-8s %s\n", f.form, f.long))
	}
	b.WriteString("Policies: " + strings.Join(policy.Names, ", ") + "\n\n")

	for _, e := range table {
		if e.Hidden || e.NoOp {
			continue
		}
		b.WriteString("  " + e.Name)
		if !e.Reported {
			b.WriteString("=" + e.Form)
		}
		var marks []string
		if e.ReadOnly {
			marks = append(marks, "[ro]")
		}
		if e.MountOnly {
			marks = append(marks, "[mount]")
		}
		if len(marks) > 0 {
			b.WriteString("  " + strings.Join(marks, " "))
		}
		b.WriteString("\n")
		if !e.Reported {
			def := e.Default
			if def == "" {
				def = "(none)"
			}
			b.WriteString("      default: " + def + "\n")
		}
		wrap(&b, e.Help, "      ", 78)
	}

	b.WriteString("\nOther accepted spellings (hidden aliases):\n")
	var aliases []string
	for _, e := range table {
		for _, a := range e.Aliases {
			aliases = append(aliases, a+" → "+e.Name)
		}
		if e.Hidden && !e.NoOp && !e.Reported {
			aliases = append(aliases, e.Name+" (hidden): "+e.Help)
		}
	}
	sort.Strings(aliases)
	for _, a := range aliases {
		b.WriteString("  " + a + "\n")
	}

	b.WriteString("\nAccepted for compatibility, no effect:\n")
	var noops []string
	for _, e := range table {
		if e.NoOp {
			noops = append(noops, e.Name)
		}
	}
	wrap(&b, strings.Join(noops, ", "), "  ", 78)

	b.WriteString("\nPassed through to mount(8) and the kernel:\n")
	words := make([]string, 0, len(mountWords)+2)
	for w := range mountWords {
		words = append(words, w)
	}
	sort.Strings(words)
	words = append(words, "comment=*", "x-*")
	wrap(&b, strings.Join(words, ", "), "  ", 78)
	return b.String()
}

// wrap writes text word-wrapped at width with the given indent.
func wrap(b *strings.Builder, text, indent string, width int) {
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	if len(line) > len(indent) {
		b.WriteString(line + "\n")
	}
}
