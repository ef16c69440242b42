"""Serving a client call: the handler, the body in, the stream or the completion out, the process."""
