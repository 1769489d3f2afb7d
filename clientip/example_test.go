package clientip_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/fortapi/fortapi/clientip"
)

// Behind a reverse proxy, trust its network and the one header it writes:
// the client is the rightmost address not in a trusted network. A request
// that does not come through the proxy cannot choose its address.
func ExampleResolver_ClientIP() {
	proxies, err := clientip.ParsePrefixes("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	res, err := clientip.New(clientip.Options{TrustedProxies: proxies, Header: clientip.XForwardedFor})
	if err != nil {
		panic(err)
	}

	viaProxy := httptest.NewRequest("GET", "/", nil)
	viaProxy.RemoteAddr = "10.0.0.5:41000"
	// The client wrote a fake first entry; the proxy appended the real peer.
	viaProxy.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.9")
	fmt.Println(res.ClientIP(viaProxy))

	direct := httptest.NewRequest("GET", "/", nil)
	direct.RemoteAddr = "198.51.100.7:5000"
	direct.Header.Set("X-Forwarded-For", "1.2.3.4") // not from a trusted proxy: ignored
	fmt.Println(res.ClientIP(direct))

	// Rate limits count IPv6 clients by their /64.
	fmt.Println(clientip.Key(netip.MustParseAddr("2001:db8:1:2:aaaa::1")) == clientip.Key(netip.MustParseAddr("2001:db8:1:2:bbbb::2")))
	// Output:
	// 203.0.113.9
	// 198.51.100.7
	// true
}
