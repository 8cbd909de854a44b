package maintain_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/repos/maintain"
)

// While a backup holds the packs, no repack deletes one, however long
// they have been superseded; once released, the next repack does.
func TestHoldPacksKeepsSuperseded(t *testing.T) {
	dir := manyPacks(t, 4)
	old := maintain.GracePeriod
	maintain.GracePeriod = 0
	defer func() { maintain.GracePeriod = old }()
	if _, err := maintain.Repack(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	hold, err := maintain.HoldPacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Removed != 0 || len(packNames(t, dir, ".pack")) != 5 {
		t.Fatalf("removed %d packs under a hold; %d left", st.Removed, len(packNames(t, dir, ".pack")))
	}
	hold.Release()
	st, err = maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Removed != 4 || len(packNames(t, dir, ".pack")) != 1 {
		t.Fatalf("removed %d packs after the hold; %v left", st.Removed, packNames(t, dir, ".pack"))
	}
	checkRepo(t, dir)
}

// StopPushes waits for a running push (a shared push lock) and gives up
// when its context ends; pushes wait while it is held.
func TestStopPushes(t *testing.T) {
	dir := manyPacks(t, 1)
	push, err := maintain.HoldPush(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := maintain.StopPushes(ctx, dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a push running: %v", err)
	}
	go func() { time.Sleep(30 * time.Millisecond); push.Release() }()
	stop, err := maintain.StopPushes(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		p, err := maintain.HoldPush(dir)
		if err == nil {
			p.Release()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a push went ahead while pushes were stopped")
	case <-time.After(50 * time.Millisecond):
	}
	stop.Release()
	<-got
}
