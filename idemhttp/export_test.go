package idemhttp

import "net/http"

// EncodeStored encodes a response as the middleware records it, for tests
// that write records by hand (as anyone with access to the store could).
func EncodeStored(status int, header, trailer http.Header, body string) []byte {
	b, _ := storedResponse{Status: status, Header: header, Trailer: trailer, Body: []byte(body)}.MarshalResult()
	return b
}
