"""The device-to-server protocol: the record format and chain (``sync.record``),
the rating scales (``sync.scale``), and, on the tablet, the uploader."""
