package fileio

import (
	"errors"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ReaderAtCloser is what NewReaderAt returns: *Mapped or *Pread.
type ReaderAtCloser interface {
	io.ReaderAt
	io.Closer
}

var (
	_ ReaderAtCloser = (*Mapped)(nil)
	_ ReaderAtCloser = (*Pread)(nil)
)

// MmapThreshold is the smallest file NewReaderAt maps. Below it mmap's fixed
// cost (mmap, page-table setup, munmap with its TLB flush) is not repaid; see
// doc.go for the measurements.
const MmapThreshold = 2 << 20

// NewReaderAt returns a reader over the first size bytes of fd: a *Mapped
// when fd is a regular file of at least MmapThreshold bytes and mmap
// succeeds, a *Pread otherwise (small files, special files, filesystems
// without mmap, mmap failures). If size < 0 it is taken from fstat.
//
// Both readers follow io.ReaderAt: ReadAt fills p or says why not, io.EOF at
// size; they are safe for concurrent ReadAt. Neither owns fd: the caller
// closes it after Close (a mapping stays valid after its descriptor is
// closed, a Pread does not).
func NewReaderAt(fd int, size int64) (ReaderAtCloser, error) {
	if size >= 0 && size < MmapThreshold {
		return NewPread(fd, size), nil
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: fdName(fd), Err: err}
	}
	reg := st.Mode&unix.S_IFMT == unix.S_IFREG
	if size < 0 {
		if !reg {
			return NewPread(fd, -1), nil
		}
		size = st.Size
	}
	if !reg || size < MmapThreshold {
		return NewPread(fd, size), nil
	}
	if m, err := OpenMmap(fd, size); err == nil {
		return m, nil
	}
	return NewPread(fd, size), nil
}

// Pread reads with pread(2). It is the fallback of NewReaderAt and needs no
// setup, so it is also the right choice for small and one-shot reads.
type Pread struct {
	fd     int
	size   int64 // logical end; -1 = unbounded (special files)
	closed atomic.Bool
}

// NewPread returns a pread reader over the first size bytes of fd (all of
// it if size < 0).
func NewPread(fd int, size int64) *Pread { return &Pread{fd: fd, size: size} }

// ReadAt implements io.ReaderAt.
func (r *Pread) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, errNegative
	}
	want := p
	if r.size >= 0 {
		if off >= r.size {
			return 0, io.EOF
		}
		want = p[:min(int64(len(p)), r.size-off)]
	}
	n := 0
	for n < len(want) {
		k, err := pread(r.fd, want[n:], off+int64(n))
		if err != nil {
			return n, &os.PathError{Op: "pread", Path: fdName(r.fd), Err: err}
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close marks the reader closed; it does not close fd.
func (r *Pread) Close() error {
	r.closed.Store(true)
	return nil
}

var errNegative = errors.New("fileio: negative offset")

// fdName names a descriptor in errors ("fd 7").
func fdName(fd int) string { return "fd " + strconv.Itoa(fd) }

// Mapped is a read-only shared mapping of a file's first size bytes.
//
// Access goes through ReadAt, which converts the SIGBUS that the kernel sends
// when the file shrinks below a mapped page into an error wrapping EIO
// (debug.SetPanicOnFault), instead of crashing the process. The mapping's
// bytes are never handed out as a slice for the same reason.
type Mapped struct {
	mu   sync.RWMutex // ReadAt holds it shared, Close exclusive
	data []byte       // nil once closed (and for size 0)
	size int64
	done bool
}

// OpenMmap maps the first size bytes of fd read-only (PROT_READ,
// MAP_SHARED). size 0 gives an empty reader without a mapping. The mapping
// does not depend on fd staying open.
func OpenMmap(fd int, size int64) (*Mapped, error) {
	if size < 0 || int64(int(size)) != size {
		return nil, &os.PathError{Op: "mmap", Path: fdName(fd), Err: unix.EINVAL}
	}
	if size == 0 {
		return &Mapped{}, nil
	}
	data, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: fdName(fd), Err: err}
	}
	return &Mapped{data: data, size: size}, nil
}

// Len returns the mapped size.
func (m *Mapped) Len() int64 { return m.size }

// Advise passes an madvise(2) hint (unix.MADV_SEQUENTIAL, MADV_RANDOM,
// MADV_WILLNEED, ...) for the whole mapping. OpenMmap sets none: doc.go has
// the measurements showing none of them pays for itself on cached data.
func (m *Mapped) Advise(advice int) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.done {
		return os.ErrClosed
	}
	if m.data == nil {
		return nil
	}
	return unix.Madvise(m.data, advice)
}

// ReadAt implements io.ReaderAt. If the file was truncated below a page being
// read, it returns 0 and an error wrapping unix.EIO.
func (m *Mapped) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.done {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, errNegative
	}
	if off >= m.size {
		return 0, io.EOF
	}
	n, err := copyGuarded(p, m.data[off:], off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// copyGuarded is copy(dst, src) with memory faults turned into errors.
func copyGuarded(dst, src []byte, off int64) (n int, err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			f, ok := r.(interface{ Addr() uintptr })
			if !ok {
				panic(r)
			}
			n, err = 0, &FaultError{Off: off, Addr: f.Addr()}
		}
	}()
	return copy(dst, src), nil
}

// FaultError reports a memory fault while reading a mapping, normally
// because the file was truncated after it was mapped. It unwraps to EIO.
type FaultError struct {
	Off  int64   // offset of the ReadAt that faulted
	Addr uintptr // faulting address
}

func (e *FaultError) Error() string {
	return "fileio: mmap read at offset " + strconv.FormatInt(e.Off, 10) + " faulted (file shrank under the mapping?): " + unix.EIO.Error()
}

// Unwrap returns unix.EIO.
func (e *FaultError) Unwrap() error { return unix.EIO }

// Close unmaps. It waits for ReadAt calls in progress; later ones return
// os.ErrClosed. Close is idempotent.
func (m *Mapped) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return nil
	}
	m.done = true
	data := m.data
	m.data = nil
	if data == nil {
		return nil
	}
	if err := unix.Munmap(data); err != nil {
		return &os.PathError{Op: "munmap", Path: "mapping", Err: err}
	}
	return nil
}
