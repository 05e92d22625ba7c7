package vfs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStress runs creators, renamers, unlinkers and readers at once over
// three branches and checks the invariants: readdir never shows a name twice,
// and at the end every file is exactly where the operations that succeeded
// put it (none lost, none duplicated).
func TestStress(t *testing.T) {
	ctx := context.Background()
	p, _ := newTestPool(t, []string{"category.create=rand", "func.readdir=cosr"},
		[]string{"c/", "r/"}, []string{"c/", "r/"}, []string{"c/"})
	p.randN = func(n uint64) uint64 { return uint64(randSeq.Add(1)) % n }
	const n = 300
	// state per file: 0 none, 1 created in c, 2 renamed to r, 3 unlinked
	var state [n]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	wg.Add(1)
	go func() { // creator
		defer wg.Done()
		for i := 0; i < n; i++ {
			f, e := p.Create(ctx, RootCred, fmt.Sprintf("c/%d", i), unix.O_WRONLY, 0o644)
			if e != 0 {
				report(fmt.Errorf("create %d: %v", i, e))
				return
			}
			f.WriteAt([]byte(fmt.Sprint(i)), 0)
			f.Close()
			state[i].Store(1)
		}
	}()
	wg.Add(1)
	go func() { // renamer
		defer wg.Done()
		for i := 0; i < n; {
			if state[i].Load() != 1 {
				continue
			}
			if e := p.Rename(ctx, RootCred, fmt.Sprintf("c/%d", i), fmt.Sprintf("r/%d", i), 0); e != 0 {
				report(fmt.Errorf("rename %d: %v", i, e))
				return
			}
			state[i].Store(2)
			i++
		}
	}()
	wg.Add(1)
	go func() { // unlinker: every third renamed file
		defer wg.Done()
		for i := 0; i < n; i += 3 {
			for state[i].Load() != 2 {
			}
			if e := p.Unlink(ctx, RootCred, fmt.Sprintf("r/%d", i)); e != 0 {
				report(fmt.Errorf("unlink %d: %v", i, e))
				return
			}
			state[i].Store(3)
		}
	}()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, dir := range []string{"c", "r"} {
					ents, e := p.Readdir(ctx, RootCred, dir)
					if e != 0 {
						report(fmt.Errorf("readdir %s: %v", dir, e))
						return
					}
					seen := map[string]bool{}
					for _, d := range ents {
						if seen[d.Name] {
							report(fmt.Errorf("readdir %s shows %q twice", dir, d.Name))
							return
						}
						seen[d.Name] = true
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		_, inC := p.Getattr(ctx, RootCred, fmt.Sprintf("c/%d", i))
		_, inR := p.Getattr(ctx, RootCred, fmt.Sprintf("r/%d", i))
		want := state[i].Load()
		switch {
		case inC == 0:
			t.Errorf("file %d still in c (state %d)", i, want)
		case want == 2 && inR != 0:
			t.Errorf("file %d lost after rename", i)
		case want == 3 && inR == 0:
			t.Errorf("file %d still present after unlink", i)
		}
	}
}

var randSeq atomic.Uint64
