package inspect

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/proxy"
)

// Defaults for Options.
const (
	DefaultBodyCap     = 256 << 10 // bytes kept of each body (JSON and pages whole; a download its start)
	DefaultQueueLen    = 4096      // exchanges waiting for the sink
	DefaultMemoryLimit = 32 << 20  // body bytes held before the sink has them: 128 bodies at the default cap

	MaxFrames            = 1000    // WebSocket frames kept of one exchange
	MaxFramePayload      = 4 << 10 // bytes kept of each frame's payload
	DefaultCloseTimeout  = 5 * time.Second
	DefaultReplayTimeout = 30 * time.Second
)

// maxBatch is the most exchanges handed to Sink.Add at once.
const maxBatch = 1024

// batchLinger is how long run waits for more exchanges after the first of a
// batch (unless a Flush or a replay asks for it sooner). One transaction per
// batch costs a WAL write and a commit: under load, waiting a little stores
// many exchanges for the price of one commit; when quiet, an exchange is
// listed this much later, which no one sees. While it waits, run listens to
// neither the queue nor the proxy: exchanges that end meanwhile are queued
// without waking it, so a batch costs one wake-up, not one per exchange.
const batchLinger = 20 * time.Millisecond

// respHeadRoom is the room left for the response head after the request
// head in a recording's buffer: most response heads fit, and then an
// exchange's heads cost one allocation.
const respHeadRoom = 512

// minGrow is the smallest body buffer allocated when the length is unknown.
const minGrow = 512

// ErrClosed is returned by Flush and Replay once the Recorder is closed.
var ErrClosed = errors.New("inspector closed")

// Options configure a Recorder.
type Options struct {
	// Sink keeps the exchanges. Required. The Recorder does not close it.
	Sink Sink
	// BodyCap is how many bytes of each request and response body are
	// kept: DefaultBodyCap if 0; none if < 0. Sizes are counted in full.
	BodyCap int
	// QueueLen is how many ended exchanges may wait for the sink;
	// DefaultQueueLen if 0. Beyond it an exchange is dropped and counted.
	QueueLen int
	// MemoryLimit bounds the body bytes held by exchanges in flight and
	// queued, across all connections; DefaultMemoryLimit if 0. Beyond it
	// bodies stop growing (Truncated, counted in Stats.Trimmed).
	MemoryLimit int64
	// CloseTimeout is how long Close lets the sink store what is queued
	// before it cancels the sink's context; DefaultCloseTimeout if 0.
	CloseTimeout time.Duration
	// Target returns the base URL ("http://127.0.0.1:8000") that Replay
	// sends a service's requests to: the service's published port. Replay
	// fails without it.
	Target func(service string) (string, error)
	// ReplayTimeout bounds one replay, response body included;
	// DefaultReplayTimeout if 0.
	ReplayTimeout time.Duration
	// OnStored, if set, is called on the Recorder's goroutine after each
	// batch of exchanges is stored, with their IDs set (replays included)
	// and without bodies. Their heads are not parsed yet:
	// (*Summary).AppendJSON reads what a summary shows from them, only for
	// an exchange someone wants to see. The exchanges are lent for the
	// call: the Recorder reuses them for later exchanges once it returns.
	// It must return quickly: the next batch waits for it.
	OnStored func([]*Exchange)
	// Logger receives the package's warnings (sink failures, drops); nil
	// discards them.
	Logger *slog.Logger
}

// Stats counts what a Recorder did since New.
type Stats struct {
	Stored   uint64 // exchanges stored by the sink (replays included)
	Dropped  uint64 // exchanges not stored: the queue was full, or the Recorder closed
	Failed   uint64 // exchanges the sink failed to store
	Trimmed  uint64 // bodies cut short of BodyCap because MemoryLimit was reached
	Queued   int    // exchanges waiting for the sink now
	Buffered int64  // body bytes held now by exchanges in flight and queued
}

// Recorder records the HTTP exchanges a proxy reports, keeps them in a Sink,
// and lists, replays and exports them. It implements proxy.Recorder. All its
// methods are safe for concurrent use; the proxy.Recorder ones never block.
type Recorder struct {
	sink Sink
	opts Options // with defaults filled in
	// bufs is the body cap, with a pool of body buffers of exactly that
	// capacity, given back once the sink has stored their exchange: large
	// bodies then cost no allocation in the steady state. SetBodyCap
	// replaces it; a recording keeps the one it began with.
	bufs     atomic.Pointer[bodyBufs]
	memLimit int64
	log      *slog.Logger

	q      chan item     // ended exchanges and Flush markers, to run
	hurry  chan struct{} // buffer 1: a Flush or replay queued, end the linger
	stop   chan struct{} // closed by Close: run drains q and returns
	done   chan struct{} // closed when run has returned
	ctx    context.Context
	cancel context.CancelFunc // cancels ctx: the sink's calls made by run
	wg     sync.WaitGroup

	closed    atomic.Bool
	closeOnce sync.Once

	held    atomic.Int64 // body bytes reserved by recordings not yet stored
	stored  atomic.Uint64
	dropped atomic.Uint64
	failed  atomic.Uint64
	trimmed atomic.Uint64

	// warned* are run's record of what it last logged, for rate limiting;
	// only run touches them.
	warnedAt      time.Time
	warnedDropped uint64
	warnedFailed  uint64
	lastErr       error // the sink's last error

	replay *replayer

	// recordings are ended recordings, stored or dropped, for Begin to
	// reuse with their heads buffer: in the steady state recording an
	// exchange allocates only the copy of its bodies.
	recordings sync.Pool
}

var _ proxy.Recorder = (*Recorder)(nil)

// item is what run receives: an ended exchange, or a Flush marker.
type item struct {
	ex   *Exchange
	rec  *recording // the recording ex is part of; nil for a replay
	held int64      // bytes of the memory budget to give back once stored
	// flushed, if not nil, receives the result of storing the batch that
	// holds this item and everything queued before it. A Flush marker has
	// a nil ex; a replay has both. Its buffer is 1: run never waits.
	flushed chan error
}

// New returns a Recorder writing to o.Sink, with its goroutine started. The
// caller must Close it (before closing the sink).
func New(o Options) (*Recorder, error) {
	if o.Sink == nil {
		return nil, errors.New("new inspector: no sink")
	}
	if o.BodyCap == 0 {
		o.BodyCap = DefaultBodyCap
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.ReplayTimeout <= 0 {
		o.ReplayTimeout = DefaultReplayTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		sink:     o.Sink,
		opts:     o,
		memLimit: o.MemoryLimit,
		log:      log,
		q:        make(chan item, o.QueueLen),
		hurry:    make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
	r.SetBodyCap(o.BodyCap)
	r.replay = newReplayer(r)
	r.wg.Add(1)
	go r.run()
	return r, nil
}

// Close stops recording: exchanges that end afterwards are dropped. It lets
// the sink store what is queued, for up to Options.CloseTimeout, then
// cancels it, and returns once the Recorder's goroutine has ended. Replays in
// flight fail. Close is idempotent.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		close(r.stop)
		t := time.AfterFunc(r.opts.CloseTimeout, r.cancel)
		r.wg.Wait()
		t.Stop()
		r.cancel()
		r.replay.close()
	})
	return nil
}

// Stats returns the Recorder's counters.
func (r *Recorder) Stats() Stats {
	return Stats{
		Stored:   r.stored.Load(),
		Dropped:  r.dropped.Load(),
		Failed:   r.failed.Load(),
		Trimmed:  r.trimmed.Load(),
		Queued:   len(r.q),
		Buffered: r.held.Load(),
	}
}

// Flush waits until every exchange that ended before the call has been
// stored (or failed to be). It is for tests and for callers that want to
// read what they just caused; it may block.
func (r *Recorder) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case r.q <- item{flushed: done}:
		r.hasten()
	case <-r.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// List returns the stored exchanges that match f, newest first, without
// their bodies.
func (r *Recorder) List(ctx context.Context, f Filter) ([]Exchange, error) {
	return r.sink.List(ctx, f)
}

// Get returns the stored exchange id with its bodies, or an error wrapping
// ErrNotFound.
func (r *Recorder) Get(ctx context.Context, id int64) (Exchange, error) {
	return r.sink.Get(ctx, id)
}

// Begin implements proxy.Recorder. It is called on the forwarding path.
func (r *Recorder) Begin(req *proxy.RequestHead) proxy.Exchange {
	if r.closed.Load() || r.replay.isOwn(req.Remote) {
		// A replay sent through an inspected port is recorded by Replay,
		// from the client's side, with its link to the original.
		return nil
	}
	rec, _ := r.recordings.Get().(*recording)
	if rec == nil {
		rec = &recording{r: r}
	}
	rec.bufs, rec.reqHint = r.bufs.Load(), req.ContentLength
	rec.ex = Exchange{Service: req.Service, Conn: req.Conn, Seq: req.Seq, Remote: req.Remote, Start: req.Start}
	// The heads are kept as they passed, parsed only when read: one
	// buffer, with room for a usual response head after the request's.
	n := len(req.Head)
	if cap(rec.heads) < n+respHeadRoom {
		rec.heads = make([]byte, 0, n+respHeadRoom)
	}
	rec.heads = append(rec.heads[:0], req.Head...)
	rec.ex.rawReq = rec.heads[:n:n]
	return rec
}

// recording is one exchange being recorded: the proxy.Exchange that Begin
// returns.
type recording struct {
	r    *Recorder
	bufs *bodyBufs // the body cap, and where buffers of that size come from

	// mu guards every field below. The request body and the response come
	// from the proxy's two goroutines of a connection, and a call after End
	// must not touch buffers that run is reading.
	mu       sync.Mutex
	ex       Exchange
	heads    []byte // the request head, then the response head if it fits
	req      capture
	resp     capture
	reqHint  int64 // Content-Length of the request, -1 if unknown
	respHint int64
	held     int64 // bytes of the memory budget reserved by req and resp
	ended    bool
}

// capture is a bounded copy of one body.
type capture struct {
	buf   []byte // at most the Recorder's bodyCap bytes; never grown past it
	total int64  // bytes seen, kept or not
	full  bool   // nothing more will be kept: the cap, or the memory budget, was reached
}

var (
	_ proxy.Exchange      = (*recording)(nil)
	_ proxy.FrameRecorder = (*recording)(nil)
	_ proxy.Sated         = (*recording)(nil)
)

// Frame implements proxy.FrameRecorder: it keeps the first MaxFrames frames,
// with up to MaxFramePayload bytes of each, within the memory budget.
func (rec *recording) Frame(f *proxy.Frame) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ended {
		return
	}
	rec.ex.FrameCount++
	if len(rec.ex.Frames) >= MaxFrames {
		return
	}
	payload := f.Payload[:min(len(f.Payload), MaxFramePayload)]
	if !rec.r.reserve(int64(len(payload))) {
		rec.r.trimmed.Add(1)
		payload = nil
	}
	rec.held += int64(len(payload))
	rec.ex.Frames = append(rec.ex.Frames, Frame{
		Time: f.Time, FromClient: f.FromClient, Opcode: int(f.Opcode), Fin: f.Fin,
		Compressed: f.Compressed, Length: f.Length, Payload: bytes.Clone(payload),
	})
}

func (rec *recording) RequestBody(p []byte) {
	rec.mu.Lock()
	if !rec.ended {
		rec.keep(&rec.req, p, rec.reqHint)
	}
	rec.mu.Unlock()
}

func (rec *recording) Response(resp *proxy.ResponseHead) {
	rec.mu.Lock()
	if !rec.ended {
		rec.ex.FirstByte = resp.Start
		n := len(rec.heads)
		rec.heads = append(rec.heads, resp.Head...)
		rec.ex.rawResp = rec.heads[n:len(rec.heads):len(rec.heads)]
		rec.respHint = resp.ContentLength
	}
	rec.mu.Unlock()
}

func (rec *recording) ResponseBody(p []byte) {
	rec.mu.Lock()
	if !rec.ended {
		rec.keep(&rec.resp, p, rec.respHint)
	}
	rec.mu.Unlock()
}

// keep copies what fits of p into c. A buffer is allocated once at the
// expected length when the head gave one (hint ≥ 0), else it doubles; it
// never grows past the cap, so a body of any size costs at most the cap
// (twice the cap in total allocations when the length is unknown).
// rec.mu must be held.
func (rec *recording) keep(c *capture, p []byte, hint int64) {
	c.total += int64(len(p))
	bodyCap := rec.bufs.size
	n := min(bodyCap-len(c.buf), len(p))
	if n <= 0 {
		return
	}
	if need := len(c.buf) + n; need > cap(c.buf) {
		size := max(need, 2*cap(c.buf), minGrow)
		if hint >= int64(need) {
			// The head said how long the body is: allocate that once.
			size = int(min(hint, int64(bodyCap)))
		}
		size = min(size, bodyCap)
		if delta := int64(size - cap(c.buf)); rec.r.reserve(delta) {
			var b []byte
			if size == bodyCap {
				b = rec.bufs.get()
			} else {
				b = make([]byte, 0, size)
			}
			c.buf = append(b, c.buf...)
			rec.held += delta
		} else {
			// Over the memory budget: keep what the buffer has room for.
			if len(c.buf)+n > cap(c.buf) {
				rec.r.trimmed.Add(1)
				c.full = true
			}
			n = cap(c.buf) - len(c.buf)
		}
	}
	c.buf = append(c.buf, p[:n]...)
	if len(c.buf) >= bodyCap {
		c.full = true
	}
}

// Sated implements proxy.Sated: once a body's copy is as long as it will
// get, the proxy need not show the recording the rest (it counts it).
func (rec *recording) Sated(response bool) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ended || rec.bufs.size <= 0 {
		return true
	}
	if response {
		return rec.resp.full
	}
	return rec.req.full
}

func (rec *recording) End(end *proxy.ExchangeEnd) {
	rec.mu.Lock()
	if rec.ended {
		rec.mu.Unlock()
		return
	}
	rec.ended = true
	ex := &rec.ex
	ex.End = end.End
	ex.Held = end.Held
	ex.Backend = end.Backend
	ex.Upgraded = end.Upgraded
	if end.Err != nil {
		ex.Error = end.Err.Error()
	}
	ex.Request.Body = rec.req.buf
	ex.Request.Size = max(rec.req.total, end.RequestBytes)
	ex.Request.Truncated = int64(len(rec.req.buf)) < ex.Request.Size
	ex.Response.Body = rec.resp.buf
	ex.Response.Size = max(rec.resp.total, end.ResponseBytes)
	ex.Response.Truncated = int64(len(rec.resp.buf)) < ex.Response.Size
	held := rec.held
	rec.mu.Unlock()
	rec.r.enqueue(rec, held)
}

// maxReusedHeads is the largest heads buffer a recording keeps for reuse.
const maxReusedHeads = 8 << 10

// recycle makes rec, ended and no longer referred to (its bodies taken by
// putBufs), available to Begin.
func (r *Recorder) recycle(rec *recording) {
	heads := rec.heads[:0]
	if cap(heads) > maxReusedHeads {
		heads = nil
	}
	*rec = recording{r: r, heads: heads}
	r.recordings.Put(rec)
}

// reserve takes n bytes of the memory budget, if it has them.
func (r *Recorder) reserve(n int64) bool {
	if r.held.Add(n) > r.memLimit {
		r.held.Add(-n)
		return false
	}
	return true
}

// hasten ends run's linger early: something that waits for its batch was
// queued. A hurry left over ends a later linger early, which is harmless.
func (r *Recorder) hasten() {
	select {
	case r.hurry <- struct{}{}:
	default:
	}
}

// enqueue hands an ended recording to run, or drops it if the queue is
// full. It never blocks.
func (r *Recorder) enqueue(rec *recording, held int64) {
	if !r.closed.Load() {
		select {
		case r.q <- item{ex: &rec.ex, rec: rec, held: held}:
			return
		default:
		}
	}
	r.dropped.Add(1)
	r.held.Add(-held)
	r.putBufs(&rec.ex)
	r.recycle(rec)
}

// bodyBufs is a body cap and a pool of buffers of that capacity.
type bodyBufs struct {
	size int
	pool sync.Pool
}

// get returns an empty buffer of b.size bytes of capacity.
func (b *bodyBufs) get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, b.size)
}

// BodyCap returns how many bytes of each body new exchanges keep.
func (r *Recorder) BodyCap() int { return r.bufs.Load().size }

// SetBodyCap sets how many bytes of each body the exchanges that begin from
// now on keep (DefaultBodyCap if n is 0, nothing if n < 0).
func (r *Recorder) SetBodyCap(n int) {
	if n == 0 {
		n = DefaultBodyCap
	}
	r.bufs.Store(&bodyBufs{size: max(n, 0)})
}

// putBufs takes ex's bodies away from it, and keeps those of the current
// cap's capacity for reuse. Nothing may refer to them any more.
func (r *Recorder) putBufs(ex *Exchange) {
	bufs := r.bufs.Load()
	for _, b := range []*[]byte{&ex.Request.Body, &ex.Response.Body} {
		if bufs.size > 0 && cap(*b) == bufs.size {
			buf := *b
			bufs.pool.Put(&buf)
		}
		*b = nil
	}
}

// run is the Recorder's goroutine: it hands queued exchanges to the sink in
// batches until Close, then drains the queue.
func (r *Recorder) run() {
	defer r.wg.Done()
	defer close(r.done)
	for {
		select {
		case it := <-r.q:
			r.writeBatch(it)
		case <-r.stop:
			for {
				select {
				case it := <-r.q:
					r.writeBatch(it)
				default:
					return
				}
			}
		}
	}
}

// writeBatch stores first and whatever else is queued, up to maxBatch
// exchanges, then releases the Flush markers among them.
func (r *Recorder) writeBatch(first item) {
	var (
		batch   []*Exchange
		recs    []*recording
		held    int64
		markers []chan error
	)
	add := func(it item) {
		if it.flushed != nil {
			markers = append(markers, it.flushed)
		}
		if it.ex != nil {
			batch = append(batch, it.ex)
			held += it.held
		}
		if it.rec != nil {
			recs = append(recs, it.rec)
		}
	}
	add(first)
	if first.flushed == nil {
		timer := time.NewTimer(batchLinger)
		select {
		case <-timer.C:
		case <-r.hurry:
		case <-r.stop:
		}
		timer.Stop()
	}
gather:
	for len(batch) < maxBatch {
		select {
		case it := <-r.q:
			add(it)
		default:
			break gather
		}
	}
	err := r.store(batch, held)
	for _, rec := range recs {
		r.recycle(rec)
	}
	for _, m := range markers {
		m <- err
	}
	r.warn()
}

// store hands batch to the sink and gives its memory back.
func (r *Recorder) store(batch []*Exchange, held int64) error {
	if len(batch) == 0 {
		return nil
	}
	err := r.sink.Add(r.ctx, batch)
	r.held.Add(-held)
	for _, ex := range batch {
		r.putBufs(ex) // Sink.Add keeps no slice of them
		ex.Frames = nil
	}
	if err != nil {
		r.failed.Add(uint64(len(batch)))
		r.lastErr = err
		return err
	}
	r.stored.Add(uint64(len(batch)))
	if r.opts.OnStored != nil {
		r.opts.OnStored(batch)
	}
	return nil
}

// warnEvery is the least time between two warnings about drops or failures.
const warnEvery = 10 * time.Second

// warn logs drops and sink failures since the last warning, at most once
// every warnEvery. Only run calls it.
func (r *Recorder) warn() {
	dropped, failed := r.dropped.Load(), r.failed.Load()
	if dropped == r.warnedDropped && failed == r.warnedFailed {
		return
	}
	now := time.Now()
	if !r.warnedAt.IsZero() && now.Sub(r.warnedAt) < warnEvery {
		return
	}
	if d := dropped - r.warnedDropped; d > 0 {
		r.log.Warn("inspector dropped exchanges: the queue to its database was full", keyDropped, d)
	}
	if f := failed - r.warnedFailed; f > 0 {
		r.log.Warn("inspector failed to store exchanges", keyFailed, f, keyErr, r.lastErr)
	}
	r.warnedAt, r.warnedDropped, r.warnedFailed = now, dropped, failed
}
