package secret

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxFileSize is the largest secret file the loaders read (64 KiB). A
// larger file is refused: it is not a secret but a mistake (a wrong path,
// a device, a log file).
const MaxFileSize = 64 << 10

// FileSuffix is appended to a variable's name to name the variable that
// holds a path to the secret instead (the Docker and Kubernetes
// convention: POSTGRES_PASSWORD_FILE=/run/secrets/db).
const FileSuffix = "_FILE"

// ErrNotSet is returned (wrapped) by FromEnv when neither NAME nor
// NAME_FILE is set, so that the caller can fall back to a default, such as
// LoadOrGenerate in development.
var ErrNotSet = errors.New("not set")

// Kind says where a loaded secret came from.
type Kind int

const (
	// KindEnv: the value of an environment variable.
	KindEnv Kind = iota + 1
	// KindFile: the content of a file named by NAME_FILE, or read with
	// FromFile.
	KindFile
	// KindGenerated: a development secret generated with crypto/rand and
	// kept in a file by LoadOrGenerate (whether created by this call or
	// by an earlier run). Production refuses these.
	KindGenerated
)

func (k Kind) String() string {
	switch k {
	case KindEnv:
		return "environment"
	case KindFile:
		return "file"
	case KindGenerated:
		return "generated"
	}
	return "unknown"
}

// Loaded is a secret and what is known about where it came from. Source
// and Warnings never contain the secret; they may be logged.
type Loaded struct {
	Secret Secret
	Kind   Kind
	// Source names the origin for logs: "$NAME", "/path ($NAME_FILE)" or
	// "/path (generated)".
	Source string
	// Created is true when LoadOrGenerate generated the secret in this
	// call.
	Created bool
	// Warnings are problems that did not stop loading, one line each, to
	// be logged at warning level (for example a secret file readable by
	// other users).
	Warnings []string
}

// FromEnv loads the secret named name: the value of the variable name, or
// else the content of the file whose path is in name+"_FILE". getenv is
// how variables are read (os.Getenv in main, a map in tests); an empty
// value counts as unset.
//
// A file's content loses exactly one trailing "\n" or "\r\n" (editors add
// one; a secret that ends in white space otherwise keeps it). A file that
// is empty, not a regular file, or larger than MaxFileSize is refused; a
// file that its group or others may access gives a warning. Setting both
// variables is refused as ambiguous. With neither set the error wraps
// ErrNotSet. Errors name the variable and the path, never the value.
func FromEnv(getenv func(string) string, name string) (Loaded, error) {
	fileVar := name + FileSuffix
	v, path := getenv(name), getenv(fileVar)
	switch {
	case v != "" && path != "":
		return Loaded{}, fmt.Errorf("secret: both %s and %s are set; set one", name, fileVar)
	case v != "":
		return Loaded{Secret: NewString(v), Kind: KindEnv, Source: "$" + name}, nil
	case path != "":
		l, err := FromFile(path)
		if err != nil {
			return Loaded{}, fmt.Errorf("secret: %s: %w", fileVar, err)
		}
		l.Source = path + " ($" + fileVar + ")"
		for i, w := range l.Warnings {
			l.Warnings[i] = fileVar + ": " + w
		}
		return l, nil
	}
	return Loaded{}, fmt.Errorf("secret: %s or %s: %w", name, fileVar, ErrNotSet)
}

// FromFile loads a secret from the file at path, with the rules of
// FromEnv for NAME_FILE. The error does not repeat the "secret:" prefix
// so that callers can add their own context.
func FromFile(path string) (Loaded, error) {
	b, warnings, err := readSecretFile(path)
	if err != nil {
		return Loaded{}, err
	}
	b = trimOneNewline(b)
	if len(b) == 0 {
		clear(b)
		return Loaded{}, fmt.Errorf("%s: the file holds only a newline", path)
	}
	s := New(b)
	clear(b)
	return Loaded{Secret: s, Kind: KindFile, Source: path, Warnings: warnings}, nil
}

// readSecretFile reads a regular file of at most MaxFileSize bytes and
// warns when its mode lets the group or others in.
func readSecretFile(path string) ([]byte, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > MaxFileSize {
		return nil, nil, fmt.Errorf("%s: %d bytes, more than the %d a secret file may hold", path, st.Size(), MaxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, unwrapPathError(err))
	}
	if len(b) > MaxFileSize { // grew while we read it
		clear(b)
		return nil, nil, fmt.Errorf("%s: more than the %d bytes a secret file may hold", path, MaxFileSize)
	}
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%s: the file is empty", path)
	}
	var warnings []string
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		warnings = append(warnings, fmt.Sprintf("%s has mode %04o: other users may read the secret; chmod 600 it (Kubernetes: defaultMode 0400)", path, perm))
	}
	return b, warnings, nil
}

// unwrapPathError drops the *fs.PathError wrapper, whose message repeats
// the path we already print.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func trimOneNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		return b[:len(b)-1]
	}
	return b
}

// DecodeKey reads a key of exactly n bytes written as text: 2n hex digits,
// or base64 (standard or URL alphabet, padded or not). Surrounding white
// space is ignored. Use it for keys that must be raw bytes of a fixed size
// (a 32-byte master key); a signing secret used as text (HS256) needs no
// decoding, only CheckStrength.
func DecodeKey(s Secret, n int) (Secret, error) {
	k, err := decodeKey(s.bytes(), n)
	if err != nil {
		return Secret{}, fmt.Errorf("secret: %w", err)
	}
	return k, nil
}

func decodeKey(b []byte, n int) (Secret, error) {
	text := bytes.TrimSpace(b)
	if len(text) == 2*n {
		if k, err := hex.DecodeString(string(text)); err == nil {
			return newOwned(k), nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if enc.DecodedLen(len(text)) < n || enc.DecodedLen(len(text)) > n+2 {
			continue
		}
		k := make([]byte, enc.DecodedLen(len(text)))
		m, err := enc.Decode(k, text)
		if err == nil && m == n {
			return newOwned(k[:m]), nil
		}
		clear(k)
	}
	return Secret{}, fmt.Errorf("want a %d-byte key as %d hex digits or as base64", n, 2*n)
}

// GenerateOptions tune LoadOrGenerate; the zero value is fine.
type GenerateOptions struct {
	// Rand is the source of the secret bytes (default crypto/rand).
	Rand io.Reader

	// link publishes the finished temporary file under its final name
	// and fails if that exists (default os.Link). Tests replace it to
	// exercise the fallback for file systems without hard links.
	link func(oldname, newname string) error
}

// LoadOrGenerate returns the n-byte development secret kept in the file at
// path, creating it first when it does not exist: n bytes from
// crypto/rand, written as standard base64 and a newline, mode 0600, in a
// directory created with mode 0700.
//
// Creation is exclusive and atomic: the bytes are written to a temporary
// file in the same directory and published with a hard link that fails if
// the name exists, so that concurrent creators (two processes starting at
// once) end up with the same secret, and no reader ever sees a half-written
// file. On file systems without hard links it falls back to
// O_CREATE|O_EXCL on the final name.
//
// An existing file must decode (see DecodeKey) to exactly n bytes. The
// result's Kind is KindGenerated and Created says whether this call wrote
// the file; a file or directory that others may access gives a warning.
func LoadOrGenerate(path string, n int, opts GenerateOptions) (Loaded, error) {
	if n <= 0 {
		return Loaded{}, fmt.Errorf("secret: LoadOrGenerate(%s): size %d", path, n)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.link == nil {
		opts.link = os.Link
	}
	l, err := loadGenerated(path, n)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return l, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Loaded{}, fmt.Errorf("secret: creating %s: %w", dir, unwrapPathError(err))
	}
	raw := make([]byte, n)
	defer clear(raw)
	if _, err := io.ReadFull(opts.Rand, raw); err != nil {
		return Loaded{}, fmt.Errorf("secret: generating %d random bytes: %w", n, err)
	}
	text := make([]byte, base64.StdEncoding.EncodedLen(n)+1)
	defer clear(text)
	base64.StdEncoding.Encode(text, raw)
	text[len(text)-1] = '\n'

	switch err := publish(path, text, opts.link); {
	case err == nil:
		l, err := loadGenerated(path, n)
		if err != nil {
			return Loaded{}, err
		}
		l.Created = true
		return l, nil
	case errors.Is(err, fs.ErrExist): // another creator won: use theirs
		return loadGenerated(path, n)
	default:
		return Loaded{}, fmt.Errorf("secret: writing %s: %w", path, err)
	}
}

// publish writes data to a new file at path, failing with fs.ErrExist if
// path exists.
func publish(path string, data []byte, link func(string, string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return unwrapPathError(err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := writeSync(f, data); err != nil {
		return err
	}
	err = link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links here: create the final name exclusively instead.
	// A concurrent reader may then see the file before it is complete;
	// loadGenerated reports that as a wrong size rather than using it.
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return unwrapPathError(err)
	}
	return writeSync(f, data)
}

func writeSync(f *os.File, data []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func loadGenerated(path string, n int) (Loaded, error) {
	b, warnings, err := readSecretFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Loaded{}, err
		}
		return Loaded{}, fmt.Errorf("secret: %w", err)
	}
	k, err := decodeKey(b, n)
	clear(b)
	if err != nil {
		return Loaded{}, fmt.Errorf("secret: %s: %w", path, err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err == nil && st.Mode().Perm()&0o077 != 0 {
		warnings = append(warnings, fmt.Sprintf("%s has mode %04o: other users may list it; chmod 700 it", filepath.Dir(path), st.Mode().Perm()))
	}
	return Loaded{Secret: k, Kind: KindGenerated, Source: path + " (generated)", Warnings: warnings}, nil
}
