package fileio

import (
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// Method names the kernel interface that moved a file's bytes.
type Method uint8

const (
	// MethodNone: nothing was copied (empty source, or a source that is one
	// big hole).
	MethodNone Method = iota
	// MethodCopyFileRange: copy_file_range(2); in-kernel, and a reflink or
	// server-side copy on filesystems that offer one (btrfs, xfs, NFS 4.2).
	MethodCopyFileRange
	// MethodSendfile: sendfile(2); in-kernel page-cache to page-cache copy,
	// works between any two filesystems.
	MethodSendfile
	// MethodReadWrite: a pread(2)/pwrite(2) loop through a pooled buffer.
	MethodReadWrite
)

var methodNames = [...]string{"none", "copy_file_range", "sendfile", "readwrite"}

// String returns the syscall-style name: "copy_file_range", "sendfile",
// "readwrite" (or "none").
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", m)
}

// maxChunk bounds one copy_file_range or sendfile call. The kernel clamps a
// single call to MAX_RW_COUNT (2 GiB - 4 KiB) anyway; 1 GiB keeps the int
// conversion safe on 32-bit platforms.
const maxChunk = 1 << 30

// Buffer size classes of the read/write loop. A copy uses the smallest class
// that holds the whole file, capped at the largest; see doc.go for the
// measurements behind the cap.
var bufClasses = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10}

var bufPools [len(bufClasses)]sync.Pool

// bufClass returns the class index for a copy of size bytes.
func bufClass(size int64) int {
	for i, c := range bufClasses {
		if size <= int64(c) {
			return i
		}
	}
	return len(bufClasses) - 1
}

// getBuf returns a pooled buffer of class i. Pools hold *[]byte so that Put
// does not allocate.
func getBuf(i int) *[]byte {
	if v := bufPools[i].Get(); v != nil {
		return v.(*[]byte)
	}
	b := make([]byte, bufClasses[i])
	return &b
}

func putBuf(i int, b *[]byte) { bufPools[i].Put(b) }

// BufferSize reports the read/write-loop buffer CopyData uses for a file of
// size bytes (exported for tools that size their own I/O the same way).
func BufferSize(size int64) int { return bufClasses[bufClass(size)] }

// CopyData copies the first size bytes of src into dst, both at offset 0,
// and returns the number of bytes the copy covers (holes included), the last
// method that moved data, and the first error.
//
// Offsets are explicit: src's file offset is neither used nor changed. dst's
// file offset is moved by the sendfile fallback (sendfile writes at the
// output's offset), so it is unspecified afterwards. dst must be open for
// writing without O_APPEND and should be empty: holes of a sparse src are
// skipped, not zero-filled, and dst is then extended with ftruncate so its
// size is exactly size.
//
// The fallback chain is copy_file_range → sendfile → read/write. A method is
// abandoned for the rest of the call when it reports an error that means
// "not supported here" (see fallbackCFR, fallbackSendfile) or copies nothing
// before size is reached; the next method resumes at the same offset, so a
// mid-copy fallback is exact. Any other error (ENOSPC, EDQUOT, EIO from the
// read/write loop, ...) is returned as is, an unix.Errno, with n the bytes
// that had been copied.
//
// If size < 0 it is taken from fstat(src). If src ends before size bytes,
// CopyData returns io.ErrUnexpectedEOF. EINTR is retried; short writes are
// continued.
func CopyData(dst, src int, size int64) (n int64, method Method, err error) {
	return copyData(dst, src, size, MethodCopyFileRange)
}

// copyData is CopyData starting the fallback chain at first (tests and
// benchmarks force a method this way).
func copyData(dst, src int, size int64, first Method) (int64, Method, error) {
	var st unix.Stat_t
	if err := fstat(src, &st); err != nil {
		return 0, MethodNone, err
	}
	if size < 0 {
		size = st.Size
	}
	if size == 0 {
		return 0, MethodNone, nil
	}
	c := copier{dst: dst, src: src, next: first, dstPos: -1, class: -1}
	defer c.release()
	// A regular file that has fewer allocated bytes than its size has holes
	// (or inline data, or is compressed: then SEEK_DATA simply reports one
	// data segment). Walking the data segments costs two lseeks per segment
	// and keeps the copy sparse whatever method moves the bytes.
	sparse := st.Mode&unix.S_IFMT == unix.S_IFREG && st.Blocks*512 < st.Size
	var off int64
	for off < size {
		start, end := off, size
		if sparse {
			d, err := lseek(src, off, unix.SEEK_DATA)
			switch {
			case err == unix.ENXIO: // only a hole is left
				start = size
			case err != nil: // no SEEK_DATA support: copy the rest densely
				sparse = false
			default:
				start = min(d, size)
				if h, err := lseek(src, start, unix.SEEK_HOLE); err == nil && h < size && h > start {
					end = h
				}
			}
		}
		if start >= size {
			break
		}
		if err := c.segment(start, end); err != nil {
			return c.segStart + c.n, c.used, err
		}
		off = end
	}
	if sparse {
		// The tail may be a hole that no write reached.
		var dt unix.Stat_t
		if err := fstat(dst, &dt); err != nil {
			return size, c.used, err
		}
		if dt.Size < size {
			if err := ftruncate(dst, size); err != nil {
				return size, c.used, err
			}
		}
	}
	return size, c.used, nil
}

// copier carries the state of one CopyData call across segments.
type copier struct {
	dst, src int
	next     Method // method to try next
	used     Method // last method that moved bytes
	dstPos   int64  // dst file offset as left by sendfile; -1 = unknown
	class    int    // buffer class, -1 = no buffer yet
	buf      *[]byte
	segStart int64 // start of the current segment (for error accounting)
	n        int64 // bytes copied in the current segment
}

func (c *copier) release() {
	if c.buf != nil {
		putBuf(c.class, c.buf)
	}
}

// fallbackCFR reports whether a copy_file_range error means "use another
// method": ENOSYS (kernel < 4.5), EXDEV (different filesystems: before 5.3,
// and again since 5.19 unless both are the same type and implement it),
// EINVAL (filesystem or file type not supported, e.g. procfs, or flags), EOPNOTSUPP
// (no support in this fs), EPERM (container seccomp profiles that block the
// syscall) and EIO (CIFS reports unsupported server-side copy that way; a real
// I/O error reappears in the fallback and is returned from there).
func fallbackCFR(err error) bool {
	switch err {
	case unix.ENOSYS, unix.EXDEV, unix.EINVAL, unix.EOPNOTSUPP, unix.EPERM, unix.EIO:
		return true
	}
	return false
}

// fallbackSendfile: ENOSYS, EINVAL (a descriptor that does not support the
// splice machinery), EOPNOTSUPP.
func fallbackSendfile(err error) bool {
	switch err {
	case unix.ENOSYS, unix.EINVAL, unix.EOPNOTSUPP:
		return true
	}
	return false
}

// segment copies src[start:end) to dst[start:end).
func (c *copier) segment(start, end int64) error {
	c.segStart, c.n = start, 0
	off := start
	for off < end {
		want := end - off
		switch c.next {
		case MethodCopyFileRange:
			roff, woff := off, off
			k, err := copyFileRange(c.src, &roff, c.dst, &woff, int(min(want, maxChunk)))
			if err != nil {
				if !fallbackCFR(err) {
					return err
				}
				c.next = MethodSendfile
				continue
			}
			if k == 0 {
				// Early EOF, or a filesystem (procfs, some FUSE) where
				// copy_file_range silently copies nothing: let the next
				// method decide.
				c.next = MethodSendfile
				continue
			}
			off += int64(k)
			c.n += int64(k)
			c.used = MethodCopyFileRange
		case MethodSendfile:
			if c.dstPos != off {
				if _, err := lseek(c.dst, off, unix.SEEK_SET); err != nil {
					return err
				}
				c.dstPos = off
			}
			roff := off
			k, err := sendfile(c.dst, c.src, &roff, int(min(want, maxChunk)))
			if err != nil {
				if !fallbackSendfile(err) {
					return err
				}
				c.next = MethodReadWrite
				continue
			}
			if k == 0 {
				c.next = MethodReadWrite
				continue
			}
			off += int64(k)
			c.dstPos += int64(k)
			c.n += int64(k)
			c.used = MethodSendfile
		default:
			k, err := c.readWrite(off, end)
			off += k
			c.n += k
			if k > 0 {
				c.used = MethodReadWrite
			}
			return err
		}
	}
	return nil
}

// readWrite is the last resort: pread/pwrite through a pooled buffer sized
// for the whole copy (see bufClasses).
func (c *copier) readWrite(off, end int64) (int64, error) {
	if c.buf == nil {
		// Size the buffer by the remaining bytes of this segment, which is the
		// whole file for dense files.
		c.class = bufClass(end - off)
		c.buf = getBuf(c.class)
	}
	return rwLoop(c.dst, c.src, *c.buf, off, end)
}

// rwLoop copies src[off:end) to dst[off:end) through buf.
func rwLoop(dst, src int, buf []byte, off, end int64) (int64, error) {
	start := off
	for off < end {
		p := buf[:min(int64(len(buf)), end-off)]
		r, err := pread(src, p, off)
		if err != nil {
			return off - start, err
		}
		if r == 0 {
			return off - start, io.ErrUnexpectedEOF
		}
		if err := pwriteFull(dst, p[:r], off); err != nil {
			return off - start, err
		}
		off += int64(r)
	}
	return off - start, nil
}

// pwriteFull writes all of p at off, continuing after short writes.
func pwriteFull(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		w, err := pwrite(fd, p, off)
		if err != nil {
			return err
		}
		if w == 0 {
			return io.ErrShortWrite
		}
		p = p[w:]
		off += int64(w)
	}
	return nil
}
