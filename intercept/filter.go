package intercept

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// This file is the package's one use of cgo: libseccomp resolves syscall
// names to numbers per architecture, adds the architecture checks (the x32
// range on x86_64 included) and compiles the rules to classic BPF. The
// program is exported as bytes; the stub installs it with a raw seccomp(2)
// so the flags are ours. Load() is never called in mfs.

const (
	retUserNotif = 0x7fc00000 // SECCOMP_RET_USER_NOTIF
	retAllow     = 0x7fff0000 // SECCOMP_RET_ALLOW
	retErrno     = 0x00050000 // SECCOMP_RET_ERRNO
	auditArchX86 = 0x40000003 // AUDIT_ARCH_I386
	auditArchX64 = 0xc000003e // AUDIT_ARCH_X86_64
)

// archTable maps a syscall number of one architecture to its op.
type archTable struct {
	ops   []op
	names map[int32]string
}

func (t *archTable) set(nr int32, o op, name string) {
	if nr < 0 {
		return
	}
	for int(nr) >= len(t.ops) {
		t.ops = append(t.ops, opNone)
	}
	t.ops[nr] = o
	t.names[nr] = name
}

func (t *archTable) lookup(nr int32) op {
	if nr < 0 || int(nr) >= len(t.ops) {
		return opNone
	}
	return t.ops[nr]
}

// program is a compiled filter with the dispatch tables made from the same rows.
type program struct {
	bpf  []unix.SockFilter
	x64  archTable
	i386 archTable
}

var (
	progOnce sync.Once
	progVal  *program
	progErr  error
)

// compiledProgram builds the filter once per process.
func compiledProgram() (*program, error) {
	progOnce.Do(func() { progVal, progErr = buildProgram() })
	return progVal, progErr
}

func buildProgram() (*program, error) {
	p := &program{
		x64:  archTable{names: map[int32]string{}},
		i386: archTable{names: map[int32]string{}},
	}
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return nil, fmt.Errorf("libseccomp: %w", err)
	}
	defer f.Release()
	// Any architecture the filter does not list (x32 is one on x86_64)
	// gets ENOSYS, never a silent pass around the union.
	if err := f.SetBadArchAction(seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return nil, fmt.Errorf("libseccomp: bad-arch action: %w", err)
	}
	if err := f.AddArch(seccomp.ArchX86); err != nil {
		return nil, fmt.Errorf("libseccomp: add i386: %w", err)
	}
	for _, t := range commonTraps {
		if err := p.trapBoth(f, t); err != nil {
			return nil, err
		}
	}
	for _, t := range nativeTraps {
		if err := p.trapOne(f, t, seccomp.ArchAMD64); err != nil {
			return nil, err
		}
	}
	for _, t := range i386Traps {
		if err := p.trapOne(f, t, seccomp.ArchX86); err != nil {
			return nil, err
		}
	}
	// io_uring runs OPENAT, STATX, RENAMEAT ... in kernel context, past
	// seccomp: refuse it so liburing users fall back to plain syscalls.
	nr, err := seccomp.GetSyscallFromName("io_uring_setup")
	if err != nil {
		return nil, fmt.Errorf("libseccomp: io_uring_setup: %w", err)
	}
	if err := f.AddRule(nr, seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return nil, fmt.Errorf("libseccomp: io_uring_setup: %w", err)
	}
	raw, err := exportBPF(f)
	if err != nil {
		return nil, err
	}
	prog := filterProg(raw)
	for _, ft := range fixedTraps {
		p.x64.set(ft.nr, ft.op, ft.name)
		p.i386.set(ft.nr, ft.op, ft.name)
	}
	p.bpf = append(fixedPrefix(), prog...)
	if len(p.bpf) > 4096 {
		return nil, fmt.Errorf("seccomp filter too long: %d instructions", len(p.bpf))
	}
	return p, nil
}

// trapBoth traps a name on both architectures. newfstatat/statx with
// AT_EMPTY_PATH (fstat of an fd: glibc's fstat) and utimensat with a NULL
// path (futimens) act on an fd and run natively.
func (p *program) trapBoth(f *seccomp.ScmpFilter, t trap) error {
	nr, err := seccomp.GetSyscallFromName(t.name)
	if err != nil {
		return fmt.Errorf("libseccomp: syscall %q: %w", t.name, err)
	}
	if err := addTrap(f, nr, t.name); err != nil {
		return err
	}
	for _, a := range []struct {
		arch seccomp.ScmpArch
		tab  *archTable
	}{{seccomp.ArchAMD64, &p.x64}, {seccomp.ArchX86, &p.i386}} {
		n, err := seccomp.GetSyscallFromNameByArch(t.name, a.arch)
		if err == nil {
			a.tab.set(int32(n), t.op, t.name)
		}
	}
	return nil
}

// trapOne traps a name that exists (with this meaning) on one architecture.
func (p *program) trapOne(f *seccomp.ScmpFilter, t trap, arch seccomp.ScmpArch) error {
	n, err := seccomp.GetSyscallFromNameByArch(t.name, arch)
	if err != nil {
		return fmt.Errorf("libseccomp: syscall %q on %v: %w", t.name, arch, err)
	}
	tab := &p.x64
	if arch == seccomp.ArchX86 {
		tab = &p.i386
	}
	tab.set(int32(n), t.op, t.name)
	// Rules take native (or pseudo) numbers and are translated per
	// architecture; a name on one architecture only matches there.
	nat, err := seccomp.GetSyscallFromName(t.name)
	if err != nil {
		return fmt.Errorf("libseccomp: syscall %q: %w", t.name, err)
	}
	if arch == seccomp.ArchX86 && nat >= 0 {
		// The name exists natively with another meaning (i386 stat is x86_64
		// stat's legacy twin): x86_64's row already traps it, and it is
		// trapped on i386 by the same rule; only the op table differs.
		return nil
	}
	return addTrap(f, nat, t.name)
}

func addTrap(f *seccomp.ScmpFilter, nr seccomp.ScmpSyscall, name string) error {
	var conds []seccomp.ScmpCondition
	switch name {
	case "newfstatat", "fstatat64":
		c, err := seccomp.MakeCondition(3, seccomp.CompareMaskedEqual, unix.AT_EMPTY_PATH, 0)
		if err != nil {
			return err
		}
		conds = []seccomp.ScmpCondition{c}
	case "statx":
		c, err := seccomp.MakeCondition(2, seccomp.CompareMaskedEqual, unix.AT_EMPTY_PATH, 0)
		if err != nil {
			return err
		}
		conds = []seccomp.ScmpCondition{c}
	case "utimensat", "utimensat_time64":
		c, err := seccomp.MakeCondition(1, seccomp.CompareNotEqual, 0)
		if err != nil {
			return err
		}
		conds = []seccomp.ScmpCondition{c}
	}
	var err error
	if conds == nil {
		err = f.AddRule(nr, seccomp.ActNotify)
	} else {
		err = f.AddRuleConditional(nr, seccomp.ActNotify, conds)
	}
	if err != nil {
		return fmt.Errorf("libseccomp: trap %q: %w", name, err)
	}
	return nil
}

// exportBPF writes the program through a memfd (ExportBPFMem needs
// libseccomp 2.6) and reads it back.
func exportBPF(f *seccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("mfs-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "mfs-seccomp-bpf")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("libseccomp: export BPF: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(mf)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("libseccomp: exported BPF has %d bytes", len(b))
	}
	return b, nil
}

// fixedPrefix traps fixedTraps on x86_64 and i386 before libseccomp's program
// runs. It only reads seccomp_data with absolute loads and falls through to
// the first instruction of the libseccomp program, whose jumps are relative,
// so prepending it changes nothing else. The x32 range (bit 30) is above
// every fixed number and falls through to libseccomp's x32 check.
func fixedPrefix() []unix.SockFilter {
	lo, hi := fixedTraps[0].nr, fixedTraps[0].nr
	for _, t := range fixedTraps {
		lo, hi = min(lo, t.nr), max(hi, t.nr)
	}
	const (
		ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jgt  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		retK = unix.BPF_RET | unix.BPF_K
	)
	// Offsets in struct seccomp_data: nr at 0, arch at 4.
	return []unix.SockFilter{
		{Code: ldW, K: 4},                          // 0: A = arch
		{Code: jeq, K: auditArchX64, Jt: 1, Jf: 0}, // 1: x86_64 → 3
		{Code: jeq, K: auditArchX86, Jt: 0, Jf: 4}, // 2: i386 → 3, else → 7
		{Code: ldW, K: 0},                          // 3: A = nr
		{Code: jge, K: uint32(lo), Jt: 0, Jf: 2},   // 4: nr < lo → 7
		{Code: jgt, K: uint32(hi), Jt: 1, Jf: 0},   // 5: nr > hi → 7
		{Code: retK, K: retUserNotif},              // 6
	}
}

// nrName names a syscall for logs.
func (p *program) nrName(arch uint32, nr int32) string {
	tab := &p.x64
	if arch == auditArchX86 {
		tab = &p.i386
	}
	if n, ok := tab.names[nr]; ok {
		return n
	}
	return fmt.Sprintf("syscall_%d", nr)
}

// seccompData builds the 64-byte struct seccomp_data the filter reads, for
// the interpreter tests.
func seccompData(nr int32, arch uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], uint32(nr))
	binary.LittleEndian.PutUint32(b[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}
