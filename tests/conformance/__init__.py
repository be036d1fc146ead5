"""Conformance of the emulator journal's requests to Microsoft's published descriptions (README.md)."""
