// lines.js holds lines of output in memory with a cap, filtered views of
// them, and a virtual list that renders only the rows in sight. Logs of
// 100,000+ lines stay smooth: the DOM holds about a screenful of rows, a new
// line costs one array push, and rendering happens once per animation frame.

/**
 * LineBuffer is an append-only list of lines that keeps the newest max
 * lines. Each line has an absolute id (its position since the buffer began):
 * line id is lines[id - dropped].
 */
export class LineBuffer {
  constructor(max) {
    this.max = max;
    this.lines = [];
    this.dropped = 0;
    this.listeners = new Set();
    this.scheduled = false;
  }

  get end() { return this.dropped + this.lines.length; }

  get(id) { return this.lines[id - this.dropped]; }

  push(line) {
    this.lines.push(line);
    // Drop in batches of 10% so that trimming is amortised.
    if (this.lines.length > this.max + (this.max >> 3)) {
      const n = this.lines.length - this.max;
      this.lines.splice(0, n);
      this.dropped += n;
    }
    this.changed();
  }

  clear() {
    this.dropped += this.lines.length;
    this.lines = [];
    this.changed();
  }

  changed() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn();
    });
  }

  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/**
 * LineView is the ids of the lines of a buffer that a predicate keeps, kept
 * up to date incrementally as lines arrive and old ones are dropped.
 */
export class LineView {
  constructor(buffer, pred = null) {
    this.buffer = buffer;
    this.setFilter(pred);
  }

  setFilter(pred) {
    this.pred = pred;
    this.ids = [];
    this.scanned = this.buffer.dropped;
  }

  /** update scans new lines; it returns true when ids changed. */
  update() {
    const b = this.buffer;
    let changed = false;
    if (this.ids.length && this.ids[0] < b.dropped) {
      let lo = 0, hi = this.ids.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (this.ids[mid] < b.dropped) lo = mid + 1; else hi = mid; }
      this.ids.splice(0, lo);
      changed = true;
    }
    const start = Math.max(this.scanned, b.dropped);
    const end = b.end;
    const pred = this.pred;
    for (let id = start; id < end; id++) {
      if (!pred || pred(b.lines[id - b.dropped])) { this.ids.push(id); changed = true; }
    }
    this.scanned = end;
    return changed;
  }

  get length() { return this.ids.length; }

  line(i) { return this.buffer.get(this.ids[i]); }

  /** indexAtTime is the first position whose line is at or after t (ms). */
  indexAtTime(t) {
    let lo = 0, hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.line(mid).t < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}

/**
 * VList renders a LineView in a scrolling element: rows of a fixed height,
 * only those in sight (plus a margin), keyed by line id so that a line
 * already on screen is never rendered twice. In follow mode it keeps the
 * newest line in sight; scrolling up leaves follow mode.
 */
export class VList {
  constructor(el, { rowHeight = 20, renderRow, onFollow, onClick, minInterval = 0 }) {
    this.el = el;
    this.rh = rowHeight;
    this.renderRow = renderRow;
    this.onFollow = onFollow || (() => {});
    this.onClick = onClick;
    this.view = null;
    this.follow = true;
    this.rows = new Map(); // line id → element
    this.spacer = document.createElement("div");
    this.spacer.className = "vl-spacer";
    el.appendChild(this.spacer);
    this.frame = 0;
    this.minInterval = minInterval;
    this.lastRender = 0;
    this.ignoreScroll = false;
    this.onScroll = () => {
      if (this.ignoreScroll) { this.ignoreScroll = false; this.schedule(); return; }
      const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - this.rh;
      if (this.follow !== atBottom) {
        this.follow = atBottom;
        this.onFollow(atBottom);
      }
      this.schedule();
    };
    el.addEventListener("scroll", this.onScroll, { passive: true });
    this.onResize = new ResizeObserver(() => this.schedule());
    this.onResize.observe(el);
    if (onClick) {
      this.spacer.addEventListener("click", (ev) => {
        const row = ev.target.closest(".ln");
        if (row && row.dataset.id) {
          const line = this.view.buffer.get(Number(row.dataset.id));
          if (line) onClick(line, row);
        }
      });
    }
  }

  setView(view) {
    this.view = view;
    this.clearRows();
    this.schedule();
  }

  clearRows() {
    for (const r of this.rows.values()) r.remove();
    this.rows.clear();
  }

  /** rerender drops every rendered row (the row renderer changed). */
  rerender() {
    this.clearRows();
    this.schedule();
  }

  setFollow(on) {
    this.follow = on;
    this.onFollow(on);
    this.schedule();
  }

  /** scrollTo shows position i at the top and leaves follow mode. */
  scrollTo(i) {
    this.follow = false;
    this.onFollow(false);
    this.ignoreScroll = true;
    this.render();
    this.el.scrollTop = i * this.rh;
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    const tick = (now) => {
      // Under a stream of lines, render at most every minInterval ms: each
      // render repaints the list, and the budget is latency, not frame rate.
      if (now - this.lastRender < this.minInterval - 2) {
        this.frame = requestAnimationFrame(tick);
        return;
      }
      this.frame = 0;
      this.lastRender = now;
      this.render();
    };
    this.frame = requestAnimationFrame(tick);
  }

  render() {
    const v = this.view;
    if (!v) return;
    v.update();
    const el = this.el;
    const n = v.length;
    const h = n * this.rh;
    if (this.spacer._h !== h) {
      this.spacer.style.height = h + "px";
      this.spacer._h = h;
    }
    if (this.follow) {
      const top = Math.max(0, h - el.clientHeight);
      if (Math.abs(el.scrollTop - top) > 1) {
        this.ignoreScroll = true;
        el.scrollTop = top;
      }
    }
    const top = el.scrollTop;
    const first = Math.max(0, Math.floor(top / this.rh) - 10);
    const last = Math.min(n, Math.ceil((top + el.clientHeight) / this.rh) + 10);
    const keep = new Map();
    for (let i = first; i < last; i++) {
      const id = v.ids[i];
      let row = this.rows.get(id);
      if (!row) {
        const line = v.buffer.get(id);
        row = document.createElement("div");
        row.className = line.err ? "ln err" : "ln";
        row.dataset.id = id;
        row.innerHTML = this.renderRow(line);
        this.spacer.appendChild(row);
      } else {
        this.rows.delete(id);
      }
      if (row._i !== i) {
        row.style.transform = `translateY(${i * this.rh}px)`;
        row._i = i;
      }
      keep.set(id, row);
    }
    for (const r of this.rows.values()) r.remove();
    this.rows = keep;
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.el.removeEventListener("scroll", this.onScroll);
    this.onResize.disconnect();
    this.clearRows();
    this.spacer.remove();
  }
}

/** clock formats a time in ms as HH:MM:SS.mmm (local time). */
export function clock(t) {
  const d = new Date(t);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
