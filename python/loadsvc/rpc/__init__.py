"""Generated messages of python/proto/loadsvc/rpc/status.proto: wire-compatible
mirrors of google.rpc.Status, ErrorInfo and BadRequest, which decode the
status details of loadsvc's errors. Do not edit the *_pb2* files: `make
generate-python` writes them."""
