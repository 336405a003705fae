"""The asyncio client's I/O; ``meterd_client._sync`` is generated from it."""
