package intercept

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF interprets a classic BPF program on one seccomp_data, as the kernel
// does (runc's patchbpf tests use x/net/bpf for this; it is not a dependency
// here, and a seccomp program needs only these instructions).
func runBPF(prog []unix.SockFilter, data []byte) (uint32, error) {
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		k := in.K
		src := k
		if in.Code&unix.BPF_X != 0 && (in.Code&0x07 == unix.BPF_ALU || in.Code&0x07 == unix.BPF_JMP) {
			src = x
		}
		switch in.Code & 0x07 {
		case unix.BPF_LD:
			switch in.Code & 0xe0 {
			case unix.BPF_ABS:
				if int(k)+4 > len(data) || in.Code&0x18 != unix.BPF_W {
					return 0, fmt.Errorf("pc %d: bad load %#x", pc, k)
				}
				a = binary.LittleEndian.Uint32(data[k:])
			case unix.BPF_IMM:
				a = k
			case unix.BPF_MEM:
				a = mem[k]
			default:
				return 0, fmt.Errorf("pc %d: ld mode %#x", pc, in.Code)
			}
		case unix.BPF_LDX:
			switch in.Code & 0xe0 {
			case unix.BPF_IMM:
				x = k
			case unix.BPF_MEM:
				x = mem[k]
			default:
				return 0, fmt.Errorf("pc %d: ldx mode %#x", pc, in.Code)
			}
		case unix.BPF_ST:
			mem[k] = a
		case unix.BPF_STX:
			mem[k] = x
		case unix.BPF_ALU:
			switch in.Code & 0xf0 {
			case unix.BPF_ADD:
				a += src
			case unix.BPF_SUB:
				a -= src
			case unix.BPF_AND:
				a &= src
			case unix.BPF_OR:
				a |= src
			case unix.BPF_LSH:
				a <<= src
			case unix.BPF_RSH:
				a >>= src
			case unix.BPF_NEG:
				a = -a
			default:
				return 0, fmt.Errorf("pc %d: alu op %#x", pc, in.Code)
			}
		case unix.BPF_JMP:
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JA:
				pc += int(k)
				continue
			case unix.BPF_JEQ:
				cond = a == src
			case unix.BPF_JGT:
				cond = a > src
			case unix.BPF_JGE:
				cond = a >= src
			case unix.BPF_JSET:
				cond = a&src != 0
			default:
				return 0, fmt.Errorf("pc %d: jmp op %#x", pc, in.Code)
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET:
			if in.Code&0x18 == unix.BPF_A {
				return a, nil
			}
			return k, nil
		case unix.BPF_MISC:
			if in.Code&0xf8 == unix.BPF_TAX {
				x = a
			} else {
				a = x
			}
		}
	}
	return 0, fmt.Errorf("fell off the end")
}

func TestFilterInterpreter(t *testing.T) {
	p, err := compiledProgram()
	if err != nil {
		t.Fatal(err)
	}
	const (
		notify = retUserNotif
		allow  = retAllow
		enosys = retErrno | uint32(unix.ENOSYS)
	)
	const x32 = 0x40000000
	cases := []struct {
		name string
		nr   int32
		arch uint32
		args []uint64
		want uint32
	}{
		{"openat", unix.SYS_OPENAT, auditArchX64, nil, notify},
		{"open", unix.SYS_OPEN, auditArchX64, nil, notify},
		{"creat", unix.SYS_CREAT, auditArchX64, nil, notify},
		{"read is free", unix.SYS_READ, auditArchX64, nil, allow},
		{"close is free", unix.SYS_CLOSE, auditArchX64, nil, allow},
		{"fstat is free", unix.SYS_FSTAT, auditArchX64, nil, allow},
		{"newfstatat path", unix.SYS_NEWFSTATAT, auditArchX64, []uint64{3, 0x1000, 0x2000, 0}, notify},
		{"newfstatat nofollow", unix.SYS_NEWFSTATAT, auditArchX64, []uint64{3, 0x1000, 0x2000, unix.AT_SYMLINK_NOFOLLOW}, notify},
		{"newfstatat AT_EMPTY_PATH", unix.SYS_NEWFSTATAT, auditArchX64, []uint64{3, 0x1000, 0x2000, unix.AT_EMPTY_PATH}, allow},
		{"statx path", unix.SYS_STATX, auditArchX64, []uint64{3, 0x1000, 0, 0x7ff}, notify},
		{"statx AT_EMPTY_PATH", unix.SYS_STATX, auditArchX64, []uint64{3, 0x1000, unix.AT_EMPTY_PATH | unix.AT_SYMLINK_NOFOLLOW, 0x7ff}, allow},
		{"utimensat path", unix.SYS_UTIMENSAT, auditArchX64, []uint64{unix.AT_FDCWD & 0xffffffff, 0x1000, 0, 0}, notify},
		{"utimensat NULL path (futimens)", unix.SYS_UTIMENSAT, auditArchX64, []uint64{3, 0, 0x1000, 0}, allow},
		{"getdents64", unix.SYS_GETDENTS64, auditArchX64, nil, notify},
		{"mkdir (rsync)", unix.SYS_MKDIR, auditArchX64, nil, notify},
		{"renameat2", unix.SYS_RENAMEAT2, auditArchX64, nil, notify},
		{"lgetxattr", unix.SYS_LGETXATTR, auditArchX64, nil, notify},
		{"fgetxattr is free", unix.SYS_FGETXATTR, auditArchX64, nil, allow},
		{"execve", unix.SYS_EXECVE, auditArchX64, nil, notify},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, auditArchX64, nil, enosys},
		{"setxattrat (fixed prefix)", 463, auditArchX64, nil, notify},
		{"file_setattr (fixed prefix)", 469, auditArchX64, nil, notify},
		{"470 is free", 470, auditArchX64, nil, allow},
		{"x32 openat", x32 | 257, auditArchX64, nil, enosys},
		{"x32 read", x32 | 0, auditArchX64, nil, enosys},
		{"i386 open", 5, auditArchX86, nil, notify},
		{"i386 stat64", 195, auditArchX86, nil, notify},
		{"i386 fstatat64", 300, auditArchX86, []uint64{3, 0x1000, 0x2000, 0}, notify},
		{"i386 fstatat64 AT_EMPTY_PATH", 300, auditArchX86, []uint64{3, 0x1000, 0x2000, unix.AT_EMPTY_PATH}, allow},
		{"i386 stat (legacy)", 106, auditArchX86, nil, notify},
		{"i386 chown32", 212, auditArchX86, nil, notify},
		{"i386 read", 3, auditArchX86, nil, allow},
		{"i386 getdents64", 220, auditArchX86, nil, notify},
		{"i386 io_uring_setup", 425, auditArchX86, nil, enosys},
		{"i386 setxattrat", 463, auditArchX86, nil, notify},
		{"aarch64", 56, 0xc00000b7, nil, enosys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runBPF(p.bpf, seccompData(c.nr, c.arch, c.args...))
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("nr %d arch %#x args %v: action %#x, want %#x", c.nr, c.arch, c.args, got, c.want)
			}
		})
	}
}

// TestFilterTables checks that the dispatch tables agree with the filter:
// every number an op is registered for is trapped.
func TestFilterTables(t *testing.T) {
	p, err := compiledProgram()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		arch uint32
		tab  *archTable
	}{{auditArchX64, &p.x64}, {auditArchX86, &p.i386}} {
		n := 0
		for nr, o := range a.tab.ops {
			if o == opNone {
				continue
			}
			n++
			args := []uint64{0, 1, 0, 0, 0, 0} // no AT_EMPTY_PATH, non-NULL path
			got, err := runBPF(p.bpf, seccompData(int32(nr), a.arch, args...))
			if err != nil {
				t.Fatal(err)
			}
			if got != retUserNotif {
				t.Errorf("arch %#x nr %d (%s, %v): action %#x, want USER_NOTIF", a.arch, nr, a.tab.names[int32(nr)], o, got)
			}
		}
		if n < 60 {
			t.Errorf("arch %#x: only %d trapped syscalls", a.arch, n)
		}
	}
	if len(p.bpf) > 400 {
		t.Errorf("filter has %d instructions", len(p.bpf))
	}
	t.Logf("filter: %d instructions; x86_64 ops %d, i386 ops %d", len(p.bpf), len(p.x64.names), len(p.i386.names))
}
