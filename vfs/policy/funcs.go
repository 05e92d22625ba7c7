package policy

// Category groups functions that share a default policy.
type Category uint8

const (
	CatCreate Category = iota
	CatAction
	CatSearch
	NumCategories
)

var categoryNames = [NumCategories]string{"create", "action", "search"}

// String returns the category's option spelling (category.<name>).
func (c Category) String() string { return categoryNames[c] }

// ParseCategory maps an option spelling to a Category.
func ParseCategory(s string) (Category, bool) {
	for i, n := range categoryNames {
		if n == s {
			return Category(i), true
		}
	}
	return 0, false
}

// Func is a filesystem function that has a configurable policy (func.<name>).
type Func uint8

const (
	FuncAccess Func = iota
	FuncChmod
	FuncChown
	FuncCreate
	FuncGetattr
	FuncGetxattr
	FuncLink
	FuncListxattr
	FuncMkdir
	FuncMknod
	FuncOpen
	FuncReadlink
	FuncRemovexattr
	FuncRename
	FuncRmdir
	FuncSetxattr
	FuncSymlink
	FuncTruncate
	FuncUnlink
	FuncUtimens
	NumFuncs
)

var funcInfo = [NumFuncs]struct {
	name string
	cat  Category
}{
	FuncAccess:      {"access", CatSearch},
	FuncChmod:       {"chmod", CatAction},
	FuncChown:       {"chown", CatAction},
	FuncCreate:      {"create", CatCreate},
	FuncGetattr:     {"getattr", CatSearch},
	FuncGetxattr:    {"getxattr", CatSearch},
	FuncLink:        {"link", CatAction},
	FuncListxattr:   {"listxattr", CatSearch},
	FuncMkdir:       {"mkdir", CatCreate},
	FuncMknod:       {"mknod", CatCreate},
	FuncOpen:        {"open", CatSearch},
	FuncReadlink:    {"readlink", CatSearch},
	FuncRemovexattr: {"removexattr", CatAction},
	FuncRename:      {"rename", CatAction},
	FuncRmdir:       {"rmdir", CatAction},
	FuncSetxattr:    {"setxattr", CatAction},
	FuncSymlink:     {"symlink", CatCreate},
	FuncTruncate:    {"truncate", CatAction},
	FuncUnlink:      {"unlink", CatAction},
	FuncUtimens:     {"utimens", CatAction},
}

// String returns the function's option spelling (func.<name>).
func (f Func) String() string { return funcInfo[f].name }

// Category returns the category whose policy the function uses by default.
func (f Func) Category() Category { return funcInfo[f].cat }

// ParseFunc maps an option spelling to a Func.
func ParseFunc(s string) (Func, bool) {
	for i := range funcInfo {
		if funcInfo[i].name == s {
			return Func(i), true
		}
	}
	return 0, false
}

// DefaultPolicy returns mergerfs 2.42's default policy name for a category.
func DefaultPolicy(c Category) string {
	switch c {
	case CatCreate:
		return "pfrd"
	case CatAction:
		return "epall"
	}
	return "ff"
}
