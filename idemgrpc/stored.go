package idemgrpc

import (
	"errors"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// stored is the recorded outcome of a handler: a response, or an error
// status with its message and details. Both are protocol buffers, kept as
// their wire encoding, so that any Codec of the guard stores them as
// bytes.
type stored struct {
	// Response is the response as a google.protobuf.Any, which names its
	// type for the replay.
	Response []byte `json:"response,omitempty"`
	// Status is the error as a google.rpc.Status.
	Status []byte `json:"status,omitempty"`
	// NotReplayable says why the handler's outcome was not kept: a
	// response that is not a protocol buffer message.
	NotReplayable string `json:"notReplayable,omitempty"`
}

// storeResponse records resp, which the handler returned without error.
func storeResponse(resp any) stored {
	m, ok := resp.(proto.Message)
	if !ok || m == nil {
		return stored{NotReplayable: "the response is not a protocol buffer message"}
	}
	a, err := anypb.New(m)
	if err != nil {
		return stored{NotReplayable: "the response cannot be marshalled: " + err.Error()}
	}
	b, err := proto.Marshal(a)
	if err != nil {
		return stored{NotReplayable: "the response cannot be marshalled: " + err.Error()}
	}
	return stored{Response: b}
}

// storeStatus records the final error st.
func storeStatus(st *status.Status) stored {
	b, err := proto.Marshal(st.Proto())
	if err != nil {
		// A detail that cannot be marshalled: keep code and message.
		b, _ = proto.Marshal(&spb.Status{Code: int32(st.Code()), Message: st.Message()})
	}
	return stored{Status: b}
}

// replay returns what the handler returned, without running it: the
// response or the error. A record that cannot be read back gets
// codes.Internal; the handler is not run again either way. Response types
// are looked up in the global registry, where generated code registers
// them.
func (s stored) replay() (any, error) {
	switch {
	case s.NotReplayable != "":
		return nil, status.Error(codes.Internal, "idempotency: a call with this key was already processed, but its response cannot be replayed: "+s.NotReplayable)
	case s.Status != nil:
		var p spb.Status
		if err := proto.Unmarshal(s.Status, &p); err != nil {
			return nil, unreadable(err)
		}
		if p.Code == int32(codes.OK) {
			return nil, unreadable(errors.New("a stored status with code OK"))
		}
		return nil, status.FromProto(&p).Err()
	case s.Response != nil:
		var a anypb.Any
		if err := proto.Unmarshal(s.Response, &a); err != nil {
			return nil, unreadable(err)
		}
		m, err := a.UnmarshalNew()
		if err != nil {
			return nil, unreadable(err)
		}
		return m, nil
	}
	return nil, unreadable(errors.New("neither a response nor a status"))
}

func unreadable(err error) error {
	return status.Error(codes.Internal, "idempotency: a call with this key was already processed, but its stored outcome cannot be read: "+err.Error())
}
