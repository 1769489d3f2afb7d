package fortapi

import (
	"io"
	"sync"
)

// idBytes is the randomness of a request id: 128 bits.
const idBytes = 16

// idSource hands out request ids' random bytes from a buffer it fills
// from Options.Rand (crypto/rand by default) 32 ids at a time, so that a
// request costs a copy under a lock rather than a read of the CSPRNG.
// The ids are as random as before: every byte comes from Options.Rand,
// none is handed out twice (each is cleared once taken).
type idSource struct {
	mu  sync.Mutex
	r   io.Reader
	buf [32 * idBytes]byte
	off int // buf[off:] is not yet handed out
}

func newIDSource(r io.Reader) *idSource { return &idSource{r: r, off: len(idSource{}.buf)} }

// read fills p (at most len(buf) bytes) with fresh random bytes, or
// returns the reader's error.
func (s *idSource) read(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf)-s.off < len(p) {
		if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
			clear(s.buf[:])
			s.off = len(s.buf)
			return err
		}
		s.off = 0
	}
	n := copy(p, s.buf[s.off:])
	clear(s.buf[s.off : s.off+n])
	s.off += n
	return nil
}
