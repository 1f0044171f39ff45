"""Transcription backends behind one protocol. Importing this package loads no ML library."""
