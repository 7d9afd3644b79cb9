"""Generated stubs of proto/loadsvc/v1/loadsvc.proto (package loadsvc.v1):
messages, their .pyi types and the LoadService client stub. Do not edit the
*_pb2* files: `make generate-python` writes them."""
