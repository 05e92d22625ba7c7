package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// This file is the harness's side of scenario preparation: it writes the
// inputs straight into the branches (or the native directory) before the mode
// is set up, and builds the shared inputs once per bench. None of it is timed.

// mkdirEach creates sub in every data directory, as a pool whose disks all
// carry the same directory layout.
func mkdirEach(data []string, sub string) error {
	for _, d := range data {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// spreadFiles writes n files of size bytes named f000000.. into sub,
// round-robin over the data directories.
func spreadFiles(data []string, sub string, n int, size int64) error {
	if err := mkdirEach(data, sub); err != nil {
		return err
	}
	buf := payload(int(size))
	for i := 0; i < n; i++ {
		p := filepath.Join(data[i%len(data)], sub, fileName(i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// makeTree builds the traverse tree of the given depth under sub: each
// directory has treeFanout subdirectories d0.. and treeFilesPerDir empty
// files f0..; files go round-robin over the data directories, and each
// directory exists on the branches that hold some of its files.
func makeTree(data []string, sub string, depth int) error {
	k := 0
	var mk func(rel string, level int) error
	mk = func(rel string, level int) error {
		for f := 0; f < treeFilesPerDir; f++ {
			dir := filepath.Join(data[k%len(data)], rel)
			k++
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(f)), nil, 0o644); err != nil {
				return err
			}
		}
		if level == depth {
			return nil
		}
		for c := 0; c < treeFanout; c++ {
			if err := mk(filepath.Join(rel, "d"+strconv.Itoa(c)), level+1); err != nil {
				return err
			}
		}
		return nil
	}
	return mk(sub, 0)
}

// sourceFileSize is the size of file i of a source tree: 256 B to about 8 KiB.
func sourceFileSize(i int) int { return 256 + (i*7919)%7937 }

// makeSourceTree builds shared/tree-N once: N files in directories of 100.
// A marker beside the tree (not inside, or rsync would copy it) records that
// it is complete.
func makeSourceTree(shared string, n int) error {
	dir := sourceTree(shared, n)
	done := dir + ".done"
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	buf := payload(8 << 10)
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(d, fileName(i)), buf[:sourceFileSize(i)], 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(done, nil, 0o644)
}

// makeSourceArchive builds shared/tree-N.tar once with tar itself.
func makeSourceArchive(shared string, n int) error {
	if err := makeSourceTree(shared, n); err != nil {
		return err
	}
	archive := sourceArchive(shared, n)
	done := archive + ".done"
	if _, err := os.Stat(done); err == nil {
		return nil
	}
	if _, err := runTool(tarCreateCmd(archive, sourceTree(shared, n))); err != nil {
		return err
	}
	return os.WriteFile(done, nil, 0o644)
}

// spreadTree copies the tree at src into sub of the data directories, file
// i going to directory i mod len(data); directories are created where their
// files land.
func spreadTree(src string, data []string, sub string) error {
	i := 0
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(data[i%len(data)], sub, rel)
		i++
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// dropCaches empties the page cache before a cold run: sync, then write 1 to
// /proc/sys/vm/drop_caches (root). Without the privilege it falls back to
// posix_fadvise(DONTNEED) on every regular file under dirs, which evicts
// those files' clean pages only. It returns how it was done.
func dropCaches(dirs []string) (string, error) {
	unix.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1\n"), 0); err == nil {
		return "drop_caches", nil
	}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || !de.Type().IsRegular() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		})
		if err != nil {
			return "fadvise", err
		}
	}
	return "fadvise", nil
}
