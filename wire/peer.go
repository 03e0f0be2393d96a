package wire

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// peerReader is the protocol reader's view of the socket. While a result
// streams without end (SUBSCRIBE) nothing reads the socket, so a client that
// went away would go unnoticed until a change had to be written, possibly
// never; watch reads ahead meanwhile, keeps what arrives for the protocol
// reader, and reports the peer closing.
type peerReader struct {
	nc  net.Conn
	mu  sync.Mutex
	buf []byte
	err error // a read error the watcher saw, returned once buf is drained
}

// maxReadAhead bounds what a watcher buffers from a client that keeps
// sending during a subscription.
const maxReadAhead = 1 << 20

func (r *peerReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		r.mu.Unlock()
		return n, nil
	}
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return 0, err
	}
	r.mu.Unlock()
	return r.nc.Read(p)
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
			r.buf = append(r.buf, tmp[:n]...)
			full := len(r.buf) >= maxReadAhead
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
