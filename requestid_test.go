package fortapi

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
)

// TestIDSource: the buffered source hands out the reader's bytes in
// order, each once, clears what it handed out, refills when short, and
// passes a failing reader's error on (then recovers); concurrent readers
// (run with -race) never get the same bytes.
func TestIDSource(t *testing.T) {
	t.Run("in order, each once", func(t *testing.T) {
		stream := make([]byte, 5*len(idSource{}.buf))
		for i := range stream {
			stream[i] = byte(i*7 + i/251)
		}
		s := newIDSource(bytes.NewReader(stream))
		var got []byte
		for range len(stream) / idBytes {
			var p [idBytes]byte
			if err := s.read(p[:]); err != nil {
				t.Fatal(err)
			}
			got = append(got, p[:]...)
			if !bytes.Equal(s.buf[:s.off], make([]byte, s.off)) {
				t.Fatal("handed-out bytes are still in the buffer")
			}
		}
		if !bytes.Equal(got, stream) {
			t.Fatal("the ids are not the reader's bytes in order")
		}
	})
	t.Run("reader fails", func(t *testing.T) {
		boom := errors.New("no entropy")
		r := &failAfter{r: bytes.NewReader(bytes.Repeat([]byte{1}, len(idSource{}.buf)+7)), err: boom}
		s := newIDSource(r)
		var p [idBytes]byte
		for range len(s.buf) / idBytes {
			if err := s.read(p[:]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.read(p[:]); !errors.Is(err, boom) {
			t.Fatalf("read after the reader failed: %v", err)
		}
		if s.off != len(s.buf) || !bytes.Equal(s.buf[:], make([]byte, len(s.buf))) {
			t.Fatal("a failed refill left bytes to hand out")
		}
		r.r, r.err = bytes.NewReader(bytes.Repeat([]byte{2}, len(s.buf))), nil
		if err := s.read(p[:]); err != nil || p != [idBytes]byte{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2} {
			t.Fatalf("after recovery: %v %v", p, err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		s := newIDSource(&counter{})
		var mu sync.Mutex
		seen := map[[idBytes]byte]bool{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 500 {
					var p [idBytes]byte
					if err := s.read(p[:]); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[p] {
						t.Errorf("%x handed out twice", p)
					}
					seen[p] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	})
}

// failAfter reads r, then fails with err.
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.err != nil {
		if n, _ := f.r.Read(p); n > 0 {
			return n, nil
		}
		return 0, f.err
	}
	return f.r.Read(p)
}

// counter yields distinct 16-byte blocks: a big-endian count in each.
type counter struct{ n uint64 }

func (c *counter) Read(p []byte) (int, error) {
	for i := 0; i+idBytes <= len(p); i += idBytes {
		c.n++
		clear(p[i : i+idBytes])
		for j := 0; j < 8; j++ {
			p[i+idBytes-1-j] = byte(c.n >> (8 * j))
		}
	}
	return len(p) - len(p)%idBytes, nil
}
