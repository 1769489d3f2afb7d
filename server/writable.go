package server

// UnwritableError says why a store cannot write, as its CheckWritable
// reports it (readiness). Reason is fit for a public answer: it names no
// path, host, user or credential. Err is the driver's error, for logs.
type UnwritableError struct {
	Reason string
	Err    error
}

func (e *UnwritableError) Error() string { return e.Reason }
func (e *UnwritableError) Unwrap() error { return e.Err }
