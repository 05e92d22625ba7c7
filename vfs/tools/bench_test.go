package tools

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mfs-union/mfs/vfs/fileio"
)

var (
	benchFiles = flag.Int("tools.files", 2000, "BenchmarkBalance: files on the full branch")
	benchMiB   = flag.Int("tools.mib", 200, "BenchmarkBalance: MiB on the full branch (10000 files / 5120 MiB is the issue's figure)")
)

// BenchmarkBalance times `mfs balance` of a full branch against an empty one
// of the same size (about half the files move) and rsync doing exactly the
// same moves (the plan's file list, rsync -aHX --remove-source-files
// --files-from). Both branches are tmpfs, so the figures are the movers'
// own cost (syscalls, copies, fsync bookkeeping), not a disk's.
//
//	mode=mfs         plan + execute, every copy fsynced and size-verified
//	mode=mfs-verify  the same with --verify (byte-for-byte re-read)
//	mode=engine      the copy engine alone on the same list: fileio.CopyFileAt
//	                 (Sync, Verify) and unlink per file, the bound a move
//	                 cannot beat
//	mode=rsync       rsync of the same list (no fsync, no verification)
func BenchmarkBalance(b *testing.B) {
	mustHaveRoot(b)
	size := fmt.Sprintf("%dm", *benchMiB*2+64)
	for _, mode := range []string{"mfs", "mfs-verify", "engine", "rsync"} {
		b.Run("mode="+mode, func(b *testing.B) {
			rsync := ""
			if mode == "rsync" {
				var err error
				if rsync, err = exec.LookPath("rsync"); err != nil {
					if os.Getenv("CI") == "true" {
						b.Fatal("rsync missing (make deps installs it)")
					}
					b.Skip("rsync missing: no comparison")
				}
			}
			src, dst := tmpfs(b, size), tmpfs(b, size)
			p := pool(b, src, dst)
			var files int
			var moved int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				fillBench(b, src, dst, *benchFiles, int64(*benchMiB)<<20)
				var pl *Plan
				if mode == "rsync" || mode == "engine" {
					var err error
					if pl, err = Balance(p, BalanceOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				switch mode {
				case "engine":
					engineMoves(b, src, dst, pl)
				case "rsync":
					list := filepath.Join(b.TempDir(), "list")
					var sb strings.Builder
					for _, a := range pl.Actions {
						sb.WriteString(a.Path + "\n")
					}
					if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
						b.Fatal(err)
					}
					out, err := exec.Command(rsync, "-aHX", "--remove-source-files", "--files-from="+list, src+"/", dst+"/").CombinedOutput()
					if err != nil {
						b.Fatalf("rsync: %v\n%s", err, out)
					}
				default:
					var err error
					if pl, err = Balance(p, BalanceOptions{}); err != nil {
						b.Fatal(err)
					}
					r := pl.Execute(context.Background(), ExecOptions{Verify: mode == "mfs-verify"})
					if len(r.Failed)+len(r.Skipped) > 0 {
						b.Fatalf("failed %v skipped %v", r.Failed, r.Skipped)
					}
				}
				files, moved = pl.Files, pl.Bytes
			}
			b.StopTimer()
			b.SetBytes(moved)
			b.ReportMetric(float64(files), "files/op")
			b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// engineMoves moves the plan's files with nothing but the copy engine.
func engineMoves(b *testing.B, src, dst string, pl *Plan) {
	sfd, err := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(sfd)
	dfd, err := unix.Open(dst, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(dfd)
	made := map[string]bool{}
	for _, a := range pl.Actions {
		dir, name := filepath.Split(a.Path)
		if !made[dir] {
			if err := os.MkdirAll(filepath.Join(dst, dir), 0o755); err != nil {
				b.Fatal(err)
			}
			made[dir] = true
		}
		sd, err := unix.Openat(sfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			b.Fatal(err)
		}
		dd, err := unix.Openat(dfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := fileio.CopyFileAt(sd, name, dd, name, fileio.CopyOptions{Sync: true, Verify: true, NoReplace: true}); err != nil {
			b.Fatal(err)
		}
		if err := unix.Unlinkat(sd, name, 0); err != nil {
			b.Fatal(err)
		}
		unix.Close(sd)
		unix.Close(dd)
	}
}

// fillBench empties both branches and writes n files totalling about
// total bytes to src, sizes spread from 0.2 to 1.8 times the mean.
func fillBench(b *testing.B, src, dst string, n int, total int64) {
	b.Helper()
	for _, d := range []string{src, dst} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(d, e.Name())); err != nil {
				b.Fatal(err)
			}
		}
	}
	mean := total / int64(n)
	buf := make([]byte, 2*mean)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	for i := 0; i < n; i++ {
		sz := mean/5 + (mean*8/5)*int64(i%97)/96
		p := filepath.Join(src, fmt.Sprintf("d%02d/f%05d", i%50, i))
		if i < 50 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		copy(buf, fmt.Sprint(i))
		if err := os.WriteFile(p, buf[:sz], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	unix.Sync()
}
