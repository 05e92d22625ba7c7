package bench

import "testing"

// TestYielder: the clock is read every yieldCheck calls, and a yield comes
// once yieldEvery has passed since the last one, not before.
func TestYielder(t *testing.T) {
	var clock int64
	reads, yields := 0, 0
	y := yielder{now: func() int64 { reads++; return clock }, yield: func() { yields++ }}
	for i := 0; i < yieldCheck*10; i++ {
		y.tick()
	}
	if reads != 10 || yields != 0 {
		t.Fatalf("at time 0: %d clock reads, %d yields; want 10, 0", reads, yields)
	}
	clock = yieldEvery - 1
	for i := 0; i < yieldCheck; i++ {
		y.tick()
	}
	if yields != 0 {
		t.Fatalf("yielded before yieldEvery")
	}
	clock = yieldEvery
	for i := 0; i < yieldCheck*3; i++ {
		y.tick()
	}
	if yields != 1 {
		t.Fatalf("%d yields at yieldEvery, want 1 (then none until yieldEvery more)", yields)
	}
	clock = 2*yieldEvery + 5
	for i := 0; i < yieldCheck; i++ {
		y.tick()
	}
	if yields != 2 {
		t.Fatalf("%d yields after 2×yieldEvery, want 2", yields)
	}
}
