package filelock

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestExclusiveWaitsForTheHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := Exclusive(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second descriptor on the same directory must not get the lock
	// while the first holds it.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if l, err := Exclusive(ctx, dir); err == nil {
		l.Unlock()
		t.Fatal("second Exclusive got the lock while the first held it")
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	second, err := Exclusive(context.Background(), dir)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	second.Unlock()
}

func TestExclusiveCreatesAFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	l, err := Exclusive(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
}
