package hub

import "errors"

// Hub carries streams of frames from publishers to subscribers. Every stream
// is also a group: each of its subscribers gets each of its frames.
//
// Implementations: Memory (one process). A NATS implementation (one subject
// per stream, JetStream for the retained tail) fits the same contract: it
// delivers into the same Subscriber through its exported producer methods
// (Deliver, Notify, Purge, AfterClose, End).
//
// All methods are safe for concurrent use.
type Hub interface {
	// Publish appends payload, encoded with encoding/json, to stream and
	// returns its sequence number (1, 2, 3, … per stream). A
	// json.RawMessage payload is taken as it is, unchecked, and so is what a
	// JSONAppender appends: the publisher that encodes its own vouches for
	// it. The frame is encoded once and shared by every subscriber; on a
	// live-only stream (inspect) with no subscriber it is numbered and
	// dropped, not encoded. Publish never blocks on
	// subscribers: a subscriber whose queue is full misses the frame and is
	// told so (see Subscriber).
	Publish(stream string, payload any) (uint64, error)

	// Subscribe adds streams to sub. For a stream with a since value, the
	// frames with seq > since still in the stream's retained tail are
	// delivered first, then the live ones, with no gap and no duplicate. If
	// the tail no longer holds since+1 (or since is beyond the stream's last
	// seq), sub gets an OpGap notice for that stream instead of the replay and
	// must reload what it lacks from elsewhere; live frames follow the notice.
	//
	// Subscribing to a stream sub already has is a no-op without a since
	// value; with one, delivery of that stream restarts: its frames still
	// queued in sub are discarded, and delivery resumes after since as for a
	// new subscription. That is how a client resumes after an OpMissed notice.
	//
	// Every since key must be one of streams. Subscribe returns an error
	// wrapping ErrBadStream for an invalid name, ErrClosed if sub is closed,
	// and ErrHubClosed after Close.
	Subscribe(sub *Subscriber, streams []string, since map[string]uint64) error

	// Unsubscribe removes streams from sub (all of its streams when streams
	// is nil). When it returns, Next returns no more frames of those streams:
	// the ones still queued are discarded. Unknown streams are ignored.
	Unsubscribe(sub *Subscriber, streams []string)

	// Last returns the latest sequence number of stream, 0 if it has none.
	Last(stream string) uint64

	// Close ends the hub: Publish and Subscribe fail with ErrHubClosed, and
	// every subscriber's Next returns what is queued, then ErrHubClosed.
	// Close is idempotent.
	Close() error
}

var (
	// ErrHubClosed is returned by a closed hub, and by Next of its
	// subscribers once their queue is drained.
	ErrHubClosed = errors.New("hub closed")
	// ErrClosed is returned by Next, Send and Subscribe once the
	// subscriber's owner has closed it.
	ErrClosed = errors.New("subscriber closed")
	// ErrOverflow ends a subscriber whose control queue is full: its client
	// does not read even the replies to its own requests.
	ErrOverflow = errors.New("subscriber's control queue overflowed: the client is not reading")
)
