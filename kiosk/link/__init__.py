"""The tablet's link to the commune server: pairing, the signed transport,
the outbox uploader, the roster fetch and the device's credentials.

Everything both ends must agree on (the record, the chain, the wire shapes)
lives in the top-level ``sync`` package; this is only the tablet's side of it.
"""
