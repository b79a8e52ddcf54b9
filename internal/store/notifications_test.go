package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func pendingIDs(t testing.TB, s *Store, user string) []int64 {
	t.Helper()
	ns, err := s.Pending(context.Background(), user)
	if err != nil {
		t.Fatalf("Pending(%q): %v", user, err)
	}
	var ids []int64
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	return ids
}

func TestNotifications_DeliveredOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.now = func() time.Time { return t0 }
	j := createJob(t, s, "web")

	n1, err := s.Notify(ctx, "alice", j.ID, []byte(`{"event":"ended","status":"failed"}`))
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := s.Notify(ctx, "alice", j.ID, []byte(`{"event":"output"}`))
	n3, _ := s.Notify(ctx, "bob", j.ID, []byte(`{"event":"ended"}`))
	if n1.ID >= n2.ID || n1.User != "alice" || n1.JobID != j.ID || !n1.CreatedAt.Equal(t0) || n1.DeliveredAt != nil {
		t.Errorf("Notify returned %+v, %+v", n1, n2)
	}

	got, err := s.Pending(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Notification{n1, n2}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending(alice) =\n%+v\nwant oldest first\n%+v", got, want)
	}
	if got := pendingIDs(t, s, "carol"); got != nil {
		t.Errorf("Pending(carol) = %v, want none", got)
	}

	if err := s.MarkDelivered(ctx, []int64{n1.ID}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, s, "alice"); !reflect.DeepEqual(got, []int64{n2.ID}) {
		t.Errorf("Pending(alice) after delivering %d = %v, want [%d]", n1.ID, got, n2.ID)
	}
	// Marking again, with unknown IDs mixed in, changes nothing and is not an error.
	if err := s.MarkDelivered(ctx, []int64{n1.ID, n2.ID, 424242}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, s, "alice"); got != nil {
		t.Errorf("Pending(alice) = %v, want none", got)
	}
	var first int64
	if err := s.r.QueryRow(`SELECT delivered_at FROM notifications WHERE id = ?`, n1.ID).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if !goTime(nullInt(first)).Equal(t0.Add(time.Second)) {
		t.Errorf("delivered_at of %d = %v, want the first delivery %v", n1.ID, goTime(nullInt(first)), t0.Add(time.Second))
	}
	if err := s.MarkDelivered(ctx, nil, time.Time{}); err != nil {
		t.Errorf("MarkDelivered(nil) = %v", err)
	}
	if got := pendingIDs(t, s, "bob"); !reflect.DeepEqual(got, []int64{n3.ID}) {
		t.Errorf("Pending(bob) = %v, want [%d]: delivering alice's must not touch bob's", got, n3.ID)
	}
}

func TestNotifications_SurviveReopen(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	j := createJob(t, s, "web")
	a, _ := s.Notify(ctx, "alice", j.ID, []byte(`{"n":1}`))
	b, _ := s.Notify(ctx, "alice", j.ID, []byte(`{"n":2}`))
	if err := s.MarkDelivered(ctx, []int64{a.ID}, time.Time{}); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	got, err := s.Pending(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != b.ID || string(got[0].Payload) != `{"n":2}` {
		t.Errorf("Pending after reopen = %+v, want only %d", got, b.ID)
	}
	if err := s.MarkDelivered(ctx, []int64{b.ID}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if got := pendingIDs(t, s, "alice"); got != nil {
		t.Errorf("Pending after delivering all and reopening = %v, want none", got)
	}
}

func TestNotify_Invalid(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	j := createJob(t, s, "web")
	if _, err := s.Notify(ctx, "alice", 999999, []byte(`{}`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Notify about an unknown job: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Notify(ctx, "alice", j.ID, []byte(`{"unterminated"`)); err == nil {
		t.Error("Notify with invalid JSON succeeded")
	}
	if _, err := s.Notify(ctx, "", j.ID, []byte(`{}`)); err == nil {
		t.Error("Notify with no user succeeded")
	}
	if got := pendingIDs(t, s, "alice"); got != nil {
		t.Errorf("refused notifications were stored: %v", got)
	}
}
