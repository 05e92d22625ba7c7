package bench

// The system table: beside each scenario's times, what the machine did for
// them — context switches (every round trip to a daemon or supervisor is
// two or more), the server's memory split into private and mapped file
// pages, disk traffic, and with --perf the CPU's counters. One
// builder for the text, Markdown and HTML reports.

// sysColumn is one column: its heading and its cell for a mode's summary.
type sysColumn struct {
	head string
	cell func(*Summary) string
}

var sysColumns = []sysColumn{
	{"ctx-sw/op wkr", func(s *Summary) string { return spreadOr(s.WorkerCtxPerOp, fmtPerOp) }},
	{"ctx-sw/op srv", func(s *Summary) string { return spreadOr(s.ServerCtxPerOp, fmtPerOp) }},
	{"cycles/op wkr", func(s *Summary) string { return spreadOr(s.WorkerCyclesPerOp, fmtCount) }},
	{"cycles/op srv", func(s *Summary) string { return spreadOr(s.ServerCyclesPerOp, fmtCount) }},
	{"IPC wkr", func(s *Summary) string { return spreadOr(s.WorkerIPC, fmtIPC) }},
	{"IPC srv", func(s *Summary) string { return spreadOr(s.ServerIPC, fmtIPC) }},
	{"cache-miss/op", func(s *Summary) string { return spreadOr(s.CacheMissPerOp, fmtCount) }},
	{"branch-miss/op", func(s *Summary) string { return spreadOr(s.BranchMissPerOp, fmtCount) }},
	{"srv anon RSS", func(s *Summary) string { return spreadOr(s.ServerAnonKiB, fmtKiB) }},
	{"srv file RSS", func(s *Summary) string { return spreadOr(s.ServerFileKiB, fmtKiB) }},
	{"disk read", func(s *Summary) string { return spreadOr(s.DiskReadB, fmtBytes) }},
	{"disk written", func(s *Summary) string { return spreadOr(s.DiskWriteB, fmtBytes) }},
}

// systemTable returns the heading (mode first) and one row per mode with a
// result, keeping only the columns some mode has a figure in; nil when
// there is none at all.
func systemTable(sr *ScenarioReport) (head []string, rows [][]string) {
	var ok []ModeResult
	for _, mr := range sr.Results {
		if mr.Status == "ok" && mr.Summary != nil {
			ok = append(ok, mr)
		}
	}
	var keep []sysColumn
	for _, c := range sysColumns {
		for _, mr := range ok {
			if c.cell(mr.Summary) != "-" {
				keep = append(keep, c)
				break
			}
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	head = []string{"mode"}
	for _, c := range keep {
		head = append(head, c.head)
	}
	for _, mr := range ok {
		row := []string{mr.Mode}
		for _, c := range keep {
			row = append(row, c.cell(mr.Summary))
		}
		rows = append(rows, row)
	}
	return head, rows
}

func fmtIPC(x float64) string { return sig3(x) }

func fmtBytes(b float64) string {
	if b == 0 {
		return "0"
	}
	if b < 1<<10 {
		return sig3(b) + "B"
	}
	return fmtKiB(b / (1 << 10))
}
