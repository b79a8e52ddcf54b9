package proxy

import (
	"encoding/binary"
	"time"
)

// wsObserver parses both directions of an upgraded WebSocket connection
// into frames for a FrameRecorder. The observer's mutex guards it.
type wsObserver struct {
	fr     FrameRecorder
	client wsParser // client→backend: masked frames
	server wsParser
}

// wsParser follows one direction's frames. It keeps the head of the frame
// being read and up to MaxFramePayload bytes of its payload, unmasked.
type wsParser struct {
	fromClient bool
	head       [14]byte
	headLen    int   // bytes of head gathered
	headNeed   int   // bytes the head has: 2 until the second byte says more
	left       int64 // payload bytes to go once the head is whole
	at         int64 // payload bytes seen, for the mask's phase
	frame      Frame
	mask       [4]byte
	masked     bool
	payload    []byte // reused from frame to frame
	inPayload  bool
}

// feed passes p, bytes of one direction, through its parser.
func (w *wsObserver) feed(ps *wsParser, p []byte, t time.Time) {
	for len(p) > 0 {
		if !ps.inPayload {
			if ps.headNeed == 0 {
				ps.headNeed = 2
			}
			n := copy(ps.head[ps.headLen:ps.headNeed], p)
			ps.headLen += n
			p = p[n:]
			if ps.headLen < ps.headNeed {
				return
			}
			if ps.headNeed == 2 {
				ps.headNeed = 2 + extLen(ps.head[1]&0x7f)
				if ps.head[1]&0x80 != 0 {
					ps.headNeed += 4
				}
				if ps.headLen < ps.headNeed {
					continue
				}
			}
			ps.startFrame()
			if ps.left == 0 {
				ps.emit(w.fr, t)
			}
			continue
		}
		n := int(min(ps.left, int64(len(p))))
		if room := MaxFramePayload - len(ps.payload); room > 0 {
			k := min(room, n)
			start := len(ps.payload)
			ps.payload = append(ps.payload, p[:k]...)
			if ps.masked {
				for i := start; i < len(ps.payload); i++ {
					ps.payload[i] ^= ps.mask[(ps.at+int64(i-start))&3]
				}
			}
		}
		ps.at += int64(n)
		ps.left -= int64(n)
		p = p[n:]
		if ps.left == 0 {
			ps.emit(w.fr, t)
		}
	}
}

// extLen is how many bytes of extended length follow a 7-bit length.
func extLen(l7 byte) int {
	switch l7 {
	case 126:
		return 2
	case 127:
		return 8
	}
	return 0
}

// startFrame reads a whole head into ps.frame.
func (ps *wsParser) startFrame() {
	h := ps.head[:ps.headLen]
	length := int64(h[1] & 0x7f)
	i := 2
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(h[2:4]))
		i = 4
	case 127:
		length = int64(binary.BigEndian.Uint64(h[2:10]) &^ (1 << 63))
		i = 10
	}
	ps.masked = h[1]&0x80 != 0
	if ps.masked {
		copy(ps.mask[:], h[i:i+4])
	}
	ps.frame = Frame{
		FromClient: ps.fromClient,
		Fin:        h[0]&0x80 != 0,
		Compressed: h[0]&0x40 != 0,
		Opcode:     h[0] & 0x0f,
		Length:     length,
	}
	ps.left, ps.at = length, 0
	ps.payload = ps.payload[:0]
	ps.headLen, ps.headNeed = 0, 0
	ps.inPayload = true
}

// emit reports the frame read and gets ready for the next one.
func (ps *wsParser) emit(fr FrameRecorder, t time.Time) {
	ps.frame.Time = t
	ps.frame.Payload = ps.payload
	fr.Frame(&ps.frame)
	ps.frame.Payload = nil
	ps.inPayload = false
}

// flush reports frames cut short by the end of the connection.
func (w *wsObserver) flush(t time.Time) {
	for _, ps := range []*wsParser{&w.client, &w.server} {
		if ps.inPayload {
			ps.emit(w.fr, t)
		}
	}
}
