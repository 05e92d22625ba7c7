package conformance

// Cases returns the conformance table, a fresh copy on every call.
func Cases() []Case {
	var cs []Case
	for _, part := range [][]Case{
		posixCases(),
		policyCases(),
		filterCases(),
		cloneCases(),
		removeCases(),
		renameCases(),
		linkCases(),
		attrCases(),
		readdirCases(),
		statfsCases(),
		controlCases(),
		pathKeyCases(),
		xattrCases(),
		symlinkCases(),
		inodeCases(),
		ioCases(),
	} {
		cs = append(cs, part...)
	}
	return cs
}
