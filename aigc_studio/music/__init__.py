"""Music studio core: song model, MIDI I/O, tokeniser, event transformer, MusicVAE (no Qt)."""
