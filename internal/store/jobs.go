package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobStatus is where a job is in its life: queued → running → one of the
// terminal statuses. A job can also end straight from queued (cancelled
// before it started, or failed to spawn).
type JobStatus string

// The job statuses.
const (
	StatusQueued    JobStatus = "queued"
	StatusRunning   JobStatus = "running"
	StatusSucceeded JobStatus = "succeeded"
	StatusFailed    JobStatus = "failed"
	StatusCancelled JobStatus = "cancelled"
)

// Terminal reports whether s is an end state: succeeded, failed or cancelled.
func (s JobStatus) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled
}

// Valid reports whether s is one of the five statuses.
func (s JobStatus) Valid() bool {
	return s == StatusQueued || s == StatusRunning || s.Terminal()
}

// The kinds of job, for Job.Kind.
const (
	KindRun     = "run"     // berth run
	KindExec    = "exec"    // berth exec
	KindRestart = "restart" // berth restart
	KindAPI     = "api"     // a one-off launched through the API
)

func validKind(k string) bool {
	return k == KindRun || k == KindExec || k == KindRestart || k == KindAPI
}

// RecoveredJobError is the Error that RecoverJobs gives the jobs it ends.
const RecoveredJobError = "berth stopped while the job was running"

// jobsDir is the directory, next to the database, that holds job output.
const jobsDir = "jobs"

// Job is one thing a user launched, and its outcome.
type Job struct {
	ID         int64
	Service    string
	Command    []string // nil when the job has no command of its own (a restart)
	Kind       string   // KindRun, KindExec, KindRestart or KindAPI
	LaunchedBy string   // a token name, or whoever the server says launched it
	// Watchers are the users told of the job's end, sorted by name. The
	// launcher is a watcher only if it is listed.
	Watchers  []string
	Status    JobStatus
	ExitCode  *int   // nil until the process exits (and when it never ran)
	Error     string // why the job failed, when berth knows; "" otherwise
	CreatedAt time.Time
	StartedAt time.Time // zero until StartJob
	EndedAt   time.Time // zero until FinishJob or RecoverJobs
	// OutputPath is the absolute path of the job's output file,
	// <dir>/jobs/<id>.log. The store names it; it does not write it.
	OutputPath string
}

// JobFilter selects jobs for Store.Jobs. The zero value selects every job.
type JobFilter struct {
	Service  string      // only this service's jobs, if not ""
	Status   []JobStatus // only jobs in one of these statuses, if not empty
	BeforeID int64       // only jobs with an ID below this, if > 0: the next page after the last ID seen
	Limit    int         // at most this many, if > 0
}

// JobOutputDir returns the directory that holds job output files.
func (s *Store) JobOutputDir() string {
	return filepath.Join(s.dir, jobsDir)
}

// JobOutputPath returns the path of job id's output file, <dir>/jobs/<id>.log.
// The file exists only once something has written to it.
func (s *Store) JobOutputPath(id int64) string {
	return filepath.Join(s.dir, relOutputPath(id))
}

func relOutputPath(id int64) string {
	return filepath.Join(jobsDir, strconv.FormatInt(id, 10)+".log")
}

// OpenJobOutput opens job id's output file for appending, creating it with
// mode 0600 (output can hold secrets). The caller closes it. Every Write goes
// to the end of the file (O_APPEND), so a reader tailing it never sees a
// rewrite. It does not check that the job exists.
func (s *Store) OpenJobOutput(id int64) (*os.File, error) {
	f, err := os.OpenFile(s.JobOutputPath(id), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open output of job %d: %w", id, err)
	}
	return f, nil
}

// CreateJob records a new job and returns it with its ID, status queued,
// OutputPath and CreatedAt (j.CreatedAt if set, else now) filled in.
// j.Service must be set and j.Kind be one of the Kind constants. j.Watchers
// are recorded; j.Status, ExitCode, Error, StartedAt, EndedAt and OutputPath
// are ignored.
func (s *Store) CreateJob(ctx context.Context, j Job) (Job, error) {
	if j.Service == "" {
		return Job{}, errors.New("create job: no service")
	}
	if !validKind(j.Kind) {
		return Job{}, fmt.Errorf("create job for service %q: unknown kind %q (want run, exec, restart or api)", j.Service, j.Kind)
	}
	for _, w := range j.Watchers {
		if w == "" {
			return Job{}, fmt.Errorf("create job for service %q: empty watcher name", j.Service)
		}
	}
	cmd, err := json.Marshal(nonNil(j.Command))
	if err != nil {
		return Job{}, fmt.Errorf("create job for service %q: %w", j.Service, err)
	}
	out := Job{
		Service:    j.Service,
		Command:    clone(j.Command),
		Kind:       j.Kind,
		LaunchedBy: j.LaunchedBy,
		Status:     StatusQueued,
		CreatedAt:  s.orNow(j.CreatedAt).UTC(),
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO jobs (service, command, kind, launched_by, status, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			out.Service, string(cmd), out.Kind, out.LaunchedBy, out.Status, dbTime(out.CreatedAt))
		if err != nil {
			return err
		}
		if out.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET output_path = ? WHERE id = ?`,
			relOutputPath(out.ID), out.ID); err != nil {
			return err
		}
		for _, w := range j.Watchers {
			if _, err := tx.ExecContext(ctx,
				`INSERT OR IGNORE INTO job_watchers (job_id, username, added_at) VALUES (?, ?, ?)`,
				out.ID, w, dbTime(out.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Job{}, fmt.Errorf("create job for service %q: %w", j.Service, err)
	}
	out.Watchers = sortedUnique(j.Watchers)
	out.OutputPath = s.JobOutputPath(out.ID)
	return out, nil
}

// StartJob marks a queued job running, started at at (now if zero). It fails
// with ErrNotFound, ErrJobStarted if the job is already running, and
// ErrJobFinished if it has ended.
func (s *Store) StartJob(ctx context.Context, id int64, at time.Time) error {
	at = s.orNow(at)
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := jobStatus(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case st == StatusRunning:
			return ErrJobStarted
		case st.Terminal():
			return ErrJobFinished
		}
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = ?, started_at = ? WHERE id = ?`,
			StatusRunning, dbTime(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("start job %d: %w", id, err)
	}
	return nil
}

// FinishJob ends a queued or running job with status (succeeded, failed or
// cancelled), its exit code if the process exited, and why it failed if berth
// knows (errMsg), at at (now if zero). It fails with ErrNotFound, and with
// ErrJobFinished if the job has already ended: a job ends exactly once.
func (s *Store) FinishJob(ctx context.Context, id int64, status JobStatus, exitCode *int, errMsg string, at time.Time) error {
	if !status.Terminal() {
		return fmt.Errorf("finish job %d: status %q is not an end state (want succeeded, failed or cancelled)", id, status)
	}
	at = s.orNow(at)
	var code any
	if exitCode != nil {
		code = *exitCode
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE jobs SET status = ?, exit_code = ?, error = ?, ended_at = ?
			 WHERE id = ? AND status IN ('queued', 'running')`,
			status, code, errMsg, dbTime(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		if _, err := jobStatus(ctx, tx, id); err != nil {
			return err // ErrNotFound
		}
		return ErrJobFinished
	})
	if err != nil {
		return fmt.Errorf("finish job %d: %w", id, err)
	}
	return nil
}

// RecoverJobs ends every job that a previous berth left queued or running:
// they become failed, with Error RecoveredJobError and EndedAt at (now if
// zero). The engine calls it once at start, before it launches anything. It
// returns how many jobs it ended.
func (s *Store) RecoverJobs(ctx context.Context, at time.Time) (int, error) {
	at = s.orNow(at)
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE jobs SET status = ?, error = ?, ended_at = ? WHERE status IN ('queued', 'running')`,
			StatusFailed, RecoveredJobError, dbTime(at))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover jobs: %w", err)
	}
	return int(n), nil
}

// AddWatcher makes user a watcher of job id. Adding a watcher twice is not an
// error. It fails with ErrNotFound if there is no such job.
func (s *Store) AddWatcher(ctx context.Context, id int64, user string) error {
	if user == "" {
		return fmt.Errorf("add watcher to job %d: empty user name", id)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := jobStatus(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT OR IGNORE INTO job_watchers (job_id, username, added_at) VALUES (?, ?, ?)`,
			id, user, dbTime(s.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("add watcher %q to job %d: %w", user, id, err)
	}
	return nil
}

// RemoveWatcher stops user watching job id. Removing a user who does not
// watch the job is not an error. It fails with ErrNotFound if there is no
// such job.
func (s *Store) RemoveWatcher(ctx context.Context, id int64, user string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := jobStatus(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM job_watchers WHERE job_id = ? AND username = ?`, id, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("remove watcher %q from job %d: %w", user, id, err)
	}
	return nil
}

// jobStatus returns job id's status, or ErrNotFound.
func jobStatus(ctx context.Context, tx *sql.Tx, id int64) (JobStatus, error) {
	var st JobStatus
	err := tx.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = ?`, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return st, err
}

const jobColumns = `id, service, command, kind, launched_by, status, exit_code, error,
	created_at, started_at, ended_at, output_path,
	(SELECT json_group_array(username ORDER BY username) FROM job_watchers w WHERE w.job_id = jobs.id)`

// Job returns job id, or ErrNotFound.
func (s *Store) Job(ctx context.Context, id int64) (Job, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id)
	j, err := s.scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job %d: %w", id, err)
	}
	return j, nil
}

// Jobs returns the jobs that filter selects, newest (highest ID) first.
func (s *Store) Jobs(ctx context.Context, filter JobFilter) ([]Job, error) {
	var (
		where []string
		args  []any
	)
	if filter.Service != "" {
		where = append(where, "service = ?")
		args = append(args, filter.Service)
	}
	if len(filter.Status) > 0 {
		ph := make([]string, len(filter.Status))
		for i, st := range filter.Status {
			if !st.Valid() {
				return nil, fmt.Errorf("list jobs: unknown status %q", st)
			}
			ph[i] = "?"
			args = append(args, st)
		}
		where = append(where, "status IN ("+strings.Join(ph, ", ")+")")
	}
	if filter.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, filter.BeforeID)
	}
	q := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC`
	if filter.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, filter.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		j, err := s.scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

type scanner interface {
	Scan(dest ...any) error
}

func (s *Store) scanJob(row scanner) (Job, error) {
	var (
		j                          Job
		cmd, watchers, out         string
		exit                       sql.NullInt64
		created, started, finished sql.NullInt64
	)
	if err := row.Scan(&j.ID, &j.Service, &cmd, &j.Kind, &j.LaunchedBy, &j.Status, &exit, &j.Error,
		&created, &started, &finished, &out, &watchers); err != nil {
		return Job{}, err
	}
	if err := json.Unmarshal([]byte(cmd), &j.Command); err != nil {
		return Job{}, fmt.Errorf("job %d: decode command: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(watchers), &j.Watchers); err != nil {
		return Job{}, fmt.Errorf("job %d: decode watchers: %w", j.ID, err)
	}
	if len(j.Command) == 0 {
		j.Command = nil
	}
	if len(j.Watchers) == 0 {
		j.Watchers = nil
	}
	if exit.Valid {
		c := int(exit.Int64)
		j.ExitCode = &c
	}
	j.CreatedAt, j.StartedAt, j.EndedAt = goTime(created), goTime(started), goTime(finished)
	if out != "" {
		j.OutputPath = filepath.Join(s.dir, out)
	}
	return j, nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func clone(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return append([]string(nil), ss...)
}

// sortedUnique returns a sorted copy of ss without duplicates, nil if empty.
// Byte order, like SQLite's BINARY collation that Job and Jobs sort by.
func sortedUnique(ss []string) []string {
	out := clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}
