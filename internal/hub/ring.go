package hub

// ring is a FIFO queue in a circular buffer that grows as needed. It is not
// safe for concurrent use; its owner's mutex guards it.
type ring[T any] struct {
	buf  []T
	head int // index of the first element
	n    int
}

func (r *ring[T]) len() int { return r.n }

// at returns the i-th element from the front.
func (r *ring[T]) at(i int) T { return r.buf[(r.head+i)%len(r.buf)] }

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = v
	r.n++
}

// pop removes and returns the front element; r must not be empty.
func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // let the GC have it
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return v
}

func (r *ring[T]) grow() {
	size := 2 * len(r.buf)
	if size < 16 {
		size = 16
	}
	buf := make([]T, size)
	for i := 0; i < r.n; i++ {
		buf[i] = r.at(i)
	}
	r.buf, r.head = buf, 0
}

// filter keeps the elements for which keep returns true, in order, and
// returns how many it removed.
func (r *ring[T]) filter(keep func(T) bool) int {
	var zero T
	w := 0
	for i := 0; i < r.n; i++ {
		v := r.at(i)
		if keep(v) {
			r.buf[(r.head+w)%len(r.buf)] = v
			w++
		}
	}
	for i := w; i < r.n; i++ {
		r.buf[(r.head+i)%len(r.buf)] = zero
	}
	removed := r.n - w
	r.n = w
	return removed
}

// reset empties r and frees its buffer.
func (r *ring[T]) reset() { *r = ring[T]{} }
