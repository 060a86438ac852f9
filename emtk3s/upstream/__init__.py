"""Readers of upstream repositories' own files (no upstream script is ever run)."""
