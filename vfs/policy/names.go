package policy

// Names lists every policy name mfs accepts, sorted (mergerfs 2.42's set; there is no eplup).
var Names = []string{
	"all", "epall", "epff", "eplfs", "eplus", "epmfs", "eppfrd", "eprand", "erofs", "ff",
	"lfs", "lup", "lus", "mfs", "msplfs", "msplus", "mspmfs", "msppfrd", "newest", "pfrd", "rand",
}

// Valid reports whether name is a policy name.
func Valid(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}
