"""The device-to-server contract, shared by the tablet and the commune server:
the record format and chain (``sync.record``), the protocol vocabulary
(``sync.protocol``), the wire shapes (``sync.wire``), the commune-wide settings
a roster carries (``sync.roster``) and the rating scales (``sync.scale``).

It imports nothing of ours: both ends import it, never the other way.
"""
