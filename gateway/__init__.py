"""harassment-gateway: finds customer harassment in support mail and helpdesk tickets.

The pipeline is ``ingest -> detect -> contact -> policy -> effects -> audit``; each stage is a
function over the plain data in :mod:`gateway.model`.
"""

__version__ = "0.1.0"
