package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Notification is a message for a user about a job (typically: it ended),
// kept until it is delivered. Delivery is at least once: the deliverer sends
// what Pending returns, then calls MarkDelivered; from then on it is never
// pending again. Two deliverers for the same user must be serialised by the
// caller, or the user may get a notification twice.
type Notification struct {
	ID          int64
	User        string
	JobID       int64
	Payload     []byte // JSON
	CreatedAt   time.Time
	DeliveredAt *time.Time // nil while pending
}

// Notify records a pending notification for user about job jobID. payload
// must be valid JSON. It fails with ErrNotFound if there is no such job.
func (s *Store) Notify(ctx context.Context, user string, jobID int64, payload []byte) (Notification, error) {
	if user == "" {
		return Notification{}, fmt.Errorf("notify about job %d: empty user name", jobID)
	}
	if !json.Valid(payload) {
		return Notification{}, fmt.Errorf("notify %q about job %d: payload is not valid JSON", user, jobID)
	}
	n := Notification{
		User:      user,
		JobID:     jobID,
		Payload:   append([]byte(nil), payload...),
		CreatedAt: s.now().UTC(),
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := jobStatus(ctx, tx, jobID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO notifications (username, job_id, payload, created_at) VALUES (?, ?, ?, ?)`,
			user, jobID, n.Payload, dbTime(n.CreatedAt))
		if err != nil {
			return err
		}
		n.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Notification{}, fmt.Errorf("notify %q about job %d: %w", user, jobID, err)
	}
	return n, nil
}

// Pending returns user's undelivered notifications, oldest first.
func (s *Store) Pending(ctx context.Context, user string) ([]Notification, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, username, job_id, payload, created_at FROM notifications
		 WHERE username = ? AND delivered_at IS NULL ORDER BY id`, user)
	if err != nil {
		return nil, fmt.Errorf("pending notifications of %q: %w", user, err)
	}
	defer rows.Close()
	var ns []Notification
	for rows.Next() {
		var (
			n       Notification
			created sql.NullInt64
		)
		if err := rows.Scan(&n.ID, &n.User, &n.JobID, &n.Payload, &created); err != nil {
			return nil, fmt.Errorf("pending notifications of %q: %w", user, err)
		}
		n.CreatedAt = goTime(created)
		ns = append(ns, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending notifications of %q: %w", user, err)
	}
	return ns, nil
}

// MarkDelivered records that notifications ids were delivered at at (now if
// zero). A notification already delivered keeps its first delivery time;
// unknown IDs are ignored.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("mark notifications delivered: %w", err)
	}
	at = s.orNow(at)
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE notifications SET delivered_at = ?
			 WHERE delivered_at IS NULL AND id IN (SELECT value FROM json_each(?))`,
			dbTime(at), string(list))
		return err
	})
	if err != nil {
		return fmt.Errorf("mark %d notification(s) delivered: %w", len(ids), err)
	}
	return nil
}
