package inspect

// Reading the exchanges table of schema 0001–0004 (one row per exchange),
// once, to move its rows into segments (migration 0005).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// importBatch is how many old rows are moved per transaction.
const importBatch = 256

// importRows moves the rows of the old exchanges table, if it is there,
// into segments with their IDs, then drops it. Rows are moved in ID order,
// a batch per transaction; rows below nextID were moved by an open that
// was interrupted, and are skipped.
func (d *DB) importRows(ctx context.Context) error {
	var n int
	if err := d.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'exchanges'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	for {
		exs, err := d.oldRows(ctx, d.nextID)
		if err != nil {
			return err
		}
		if len(exs) == 0 {
			break
		}
		if err := d.add(ctx, exs); err != nil {
			return err
		}
	}
	_, err := d.w.ExecContext(ctx, `DROP TABLE exchanges`)
	return err
}

// oldRows reads up to importBatch rows of the old table from ID from on.
func (d *DB) oldRows(ctx context.Context, from int64) ([]*Exchange, error) {
	rows, err := d.w.QueryContext(ctx, `SELECT id, replay_of, service, conn, seq, remote,
		method, target, proto, host, req_header, req_size, req_truncated,
		resp_proto, status, reason, resp_header, resp_size, resp_truncated,
		started_at, first_byte_at, ended_at, held_ns, upgraded, error,
		backend, frame_count, req_body, resp_body, frames
		FROM exchanges WHERE id >= ? ORDER BY id LIMIT ?`, from, importBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Exchange
	for rows.Next() {
		var (
			ex                      Exchange
			replayOf                sql.NullInt64
			conn                    int64
			reqH, respH, frames     string
			start, firstByte, ended sql.NullInt64
			held                    int64
		)
		if err := rows.Scan(&ex.ID, &replayOf, &ex.Service, &conn, &ex.Seq, &ex.Remote,
			&ex.Request.Method, &ex.Request.Target, &ex.Request.Proto, &ex.Request.Host, &reqH, &ex.Request.Size, &ex.Request.Truncated,
			&ex.Response.Proto, &ex.Response.Status, &ex.Response.Reason, &respH, &ex.Response.Size, &ex.Response.Truncated,
			&start, &firstByte, &ended, &held, &ex.Upgraded, &ex.Error,
			&ex.Backend, &ex.FrameCount, &ex.Request.Body, &ex.Response.Body, &frames); err != nil {
			return nil, err
		}
		ex.ReplayOf = replayOf.Int64
		ex.Conn = uint64(conn)
		ex.Start, ex.FirstByte, ex.End = fromUnixNano(start.Int64), fromUnixNano(firstByte.Int64), fromUnixNano(ended.Int64) // NULL: 0, the zero time
		ex.Held = time.Duration(held)
		for _, j := range []struct {
			what string
			text string
			v    any
		}{
			{"request header", reqH, &ex.Request.Header},
			{"response header", respH, &ex.Response.Header},
			{"frames", frames, &ex.Frames},
		} {
			if err := json.Unmarshal([]byte(j.text), j.v); err != nil {
				return nil, fmt.Errorf("exchange %d: %s: %w", ex.ID, j.what, err)
			}
		}
		out = append(out, &ex)
	}
	return out, rows.Err()
}
