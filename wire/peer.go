package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// peerReader is the protocol reader's view of the socket. It frames the
// client's bytes into messages before pgproto3 sees them, for two reasons:
//
//   - Limits. A message's length is checked against PostgreSQL's limits for
//     the connection's phase and the message's type before any of its body
//     is read, so a client (authenticated or not) cannot make the server
//     reserve memory by announcing a large message.
//   - Memory follows data. A message is buffered whole, growing as its
//     bytes arrive, and only then handed on; pgproto3 reserves a message's
//     announced length at once, so it only ever sees lengths already
//     backed by bytes received.
//
// While a result streams without end (SUBSCRIBE) nothing reads the socket,
// so a client that went away would go unnoticed until a change had to be
// written, possibly never; watch reads ahead meanwhile, keeps what arrives,
// and reports the peer closing.
type peerReader struct {
	nc    net.Conn
	mu    sync.Mutex
	raw   []byte // bytes received and not yet handed on
	ready int    // raw[:ready] are checked, complete messages
	err   error  // a read error the watcher saw, returned once raw is drained
	phase phase
	tmp   []byte
}

// phase is where a connection is in the protocol; it decides how messages
// are framed and how long they may be.
type phase uint8

const (
	phaseStartup phase = iota // length-prefixed start-up packets, no type byte
	phaseAuth                 // password and SASL messages only
	phaseReady                // the normal message flow
)

// PostgreSQL's limits (pqcomm.h, postgres.c).
const (
	maxStartupPacket = 10000       // MAX_STARTUP_PACKET_LENGTH
	maxAuthMessage   = 65535       // PG_MAX_AUTH_TOKEN_LENGTH
	smallMessage     = 10000       // PQ_SMALL_MESSAGE_LIMIT: messages that carry no data
	largeMessage     = 1<<30 - 2   // PQ_LARGE_MESSAGE_LIMIT: MaxAllocSize - 1
	readChunk        = 32 << 10    // most bytes read from the socket at once
	maxReadAhead     = 1 << 20     // most a watcher buffers from a client that keeps sending
	startupHeaderLen = 4           // length
	messageHeaderLen = 5           // type, length
	minStartupLength = 8           // length and protocol version
	maxStartupWait   = time.Minute // authentication_timeout's default
)

// errFraming is a message the server refuses to read: the connection ends
// with a FATAL protocol violation.
type errFraming struct{ msg string }

func (e *errFraming) Error() string { return e.msg }

// limitFor is the longest body a message of type typ may have in phase p,
// or -1 if the type is not valid there.
func limitFor(p phase, typ byte) int {
	switch p {
	case phaseAuth:
		if typ == 'p' {
			return maxAuthMessage
		}
		return -1
	case phaseReady:
		switch typ {
		case 'Q', 'F', 'd', 'P', 'B':
			return largeMessage
		case 'C', 'D', 'E', 'H', 'S', 'X', 'c', 'f':
			return smallMessage
		}
	}
	return -1
}

// setPhase changes how the next messages are framed.
func (r *peerReader) setPhase(p phase) {
	r.mu.Lock()
	r.phase = p
	r.mu.Unlock()
}

func (r *peerReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready == 0 {
		if err := r.frameLocked(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.raw[:r.ready])
	r.raw = r.raw[:copy(r.raw, r.raw[n:])]
	r.ready -= n
	return n, nil
}

// frameLocked reads until raw starts with one whole message and marks it
// ready. In the start-up phase exactly one packet is framed at a time: the
// next one is framed only once the phase it belongs to is known.
func (r *peerReader) frameLocked() error {
	hdr := messageHeaderLen
	if r.phase == phaseStartup {
		hdr = startupHeaderLen
	}
	if err := r.fillLocked(hdr); err != nil {
		return err
	}
	var total int
	if r.phase == phaseStartup {
		n := int(binary.BigEndian.Uint32(r.raw))
		if n < minStartupLength || n > maxStartupPacket {
			return &errFraming{fmt.Sprintf("invalid length of startup packet: %d", n)}
		}
		total = n
	} else {
		typ := r.raw[0]
		n := int(int32(binary.BigEndian.Uint32(r.raw[1:])))
		limit := limitFor(r.phase, typ)
		switch {
		case limit < 0 && r.phase == phaseAuth:
			return &errFraming{fmt.Sprintf("expected password response, got message type %d", typ)}
		case limit < 0:
			return &errFraming{fmt.Sprintf("invalid frontend message type %d", typ)}
		case n < 4 || n-4 > limit:
			return &errFraming{fmt.Sprintf("invalid message length %d for message type %q (at most %d bytes)", n, typ, limit+4)}
		}
		total = 1 + n
	}
	if err := r.fillLocked(total); err != nil {
		return err
	}
	r.ready = total
	return nil
}

// fillLocked reads from the socket until raw holds n bytes. raw grows with
// what arrives, never by what a header announces.
func (r *peerReader) fillLocked(n int) error {
	for len(r.raw) < n {
		if r.err != nil {
			return r.err
		}
		if r.tmp == nil {
			r.tmp = make([]byte, readChunk)
		}
		// reading ahead is harmless: bytes past this message stay in raw
		// and are framed when their turn (and phase) comes
		k, err := r.nc.Read(r.tmp)
		r.raw = append(r.raw, r.tmp[:k]...)
		if err != nil {
			if len(r.raw) >= n {
				r.err = err
				return nil
			}
			return err
		}
	}
	return nil
}

// watch reads ahead until the returned stop is called; gone is called if
// the peer closes the connection or it fails.
func (r *peerReader) watch(gone func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tmp := make([]byte, 4096)
		for {
			n, err := r.nc.Read(tmp)
			r.mu.Lock()
			r.raw = append(r.raw, tmp[:n]...)
			full := len(r.raw) >= maxReadAhead
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				r.err = err
			}
			r.mu.Unlock()
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					gone()
				}
				return
			}
			if full {
				return
			}
		}
	}()
	return func() {
		_ = r.nc.SetReadDeadline(time.Now())
		<-done
		_ = r.nc.SetReadDeadline(time.Time{})
	}
}
