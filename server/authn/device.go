package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// Device credentials (OWASP, "Slow Down Online Guessing Attacks with
// Device Cookies"): a client that has logged in to an account receives a
// signed credential naming that account; presenting it at the next login
// to the same account makes the attempt "trusted", throttled only by the
// failures made with that same credential, never by failures made
// elsewhere. So an attacker hammering an account cannot lock its owner
// out of the devices the owner already uses.
//
// A device credential is DevicePrefix followed by the unpadded base64url
// of nonce (16 random bytes) || issue time (8 bytes, big-endian Unix
// seconds) || HMAC-SHA256(Options.DeviceKey, deviceMACLabel || nonce ||
// issue time || canonical username). No row is stored: it is bound to one
// account by the MAC, expires DeviceLifetime after its issue, and cannot
// be forged without the key. The nonce names it in the throttle's device
// list.
const (
	// DevicePrefix starts every device credential: its format version.
	DevicePrefix = "dv1."
	// DefaultDeviceLifetime is how long a device credential is trusted
	// (Options.DeviceLifetime).
	DefaultDeviceLifetime = 365 * 24 * time.Hour
	// MinDeviceKeyBytes is the shortest Options.DeviceKey accepted.
	MinDeviceKeyBytes = 32

	deviceNonceBytes = 16
	deviceRawBytes   = deviceNonceBytes + 8 + sha256.Size
	deviceMACLabel   = "fortapi device credential v1\x00"
	// deviceSkew is how far in the future an issue time may lie: another
	// instance's clock may run ahead.
	deviceSkew = time.Minute
)

// deviceLen is the length of a device credential.
var deviceLen = len(DevicePrefix) + base64.RawURLEncoding.EncodedLen(deviceRawBytes)

// device is a verified device credential.
type device struct {
	id      string    // the nonce: names the credential in the device list
	expires time.Time // when it stops being trusted
}

// deviceMAC is the MAC of a device credential for the account key.
func deviceMAC(key, nonce, issued []byte, account string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(deviceMACLabel))
	m.Write(nonce)
	m.Write(issued)
	m.Write([]byte(account))
	return m.Sum(nil)
}

// newDevice returns a fresh device credential for the account key (a
// throttleKey) issued at now.
func newDevice(key []byte, rnd io.Reader, account string, now time.Time) (string, error) {
	raw := make([]byte, deviceRawBytes)
	nonce, issued := raw[:deviceNonceBytes], raw[deviceNonceBytes:deviceNonceBytes+8]
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return "", fmt.Errorf("authn: reading randomness: %w", err)
	}
	binary.BigEndian.PutUint64(issued, uint64(now.Unix()))
	copy(raw[deviceNonceBytes+8:], deviceMAC(key, nonce, issued, account))
	return DevicePrefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// verifyDevice checks a presented device credential for the account key
// at now: well formed, signed with key for this very account (compared in
// constant time), issued no later than now (plus a little skew) and less
// than lifetime ago. Anything else, "" included, is no device.
func verifyDevice(key []byte, cred, account string, now time.Time, lifetime time.Duration) (device, bool) {
	if len(cred) != deviceLen || !strings.HasPrefix(cred, DevicePrefix) {
		return device{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(cred[len(DevicePrefix):])
	if err != nil || len(raw) != deviceRawBytes {
		return device{}, false
	}
	nonce, issued, mac := raw[:deviceNonceBytes], raw[deviceNonceBytes:deviceNonceBytes+8], raw[deviceNonceBytes+8:]
	if !hmac.Equal(mac, deviceMAC(key, nonce, issued, account)) {
		return device{}, false
	}
	secs := binary.BigEndian.Uint64(issued)
	if secs > uint64(now.Add(deviceSkew).Unix()) {
		return device{}, false
	}
	at := time.Unix(int64(secs), 0)
	expires := at.Add(lifetime)
	if !now.Before(expires) {
		return device{}, false
	}
	return device{id: string(nonce), expires: expires}, true
}
