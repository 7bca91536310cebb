"""A tiny but valid SoundFont 2 file written byte by byte (RIFF sfbk), so tests need no system SoundFont.

Presets: bank 0 program 0 "Sine" (a pure tone), bank 0 program 1 "Square" (odd harmonics) and
bank 128 program 0 "Kit" (the square wave as a drum kit). Samples loop, at 441 Hz (key 69).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

RATE = 44100
PERIOD = 100  # samples: 441 Hz, close enough to A4 for a test


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(text: str) -> bytes:
    return text.encode("ascii")[:19].ljust(20, b"\0")


def _waves() -> list[tuple[str, np.ndarray]]:
    t = np.arange(20 * PERIOD)
    sine = np.sin(2 * np.pi * t / PERIOD)
    square = np.where((t % PERIOD) < PERIOD // 2, 0.8, -0.8)
    return [("sine", (sine * 20000).astype("<i2")), ("square", (square * 20000).astype("<i2"))]


def sf2_bytes() -> bytes:
    """The whole file."""
    smpl, shdr, offset = b"", b"", 0
    for name, wave in _waves():
        smpl += wave.tobytes() + b"\0\0" * 46  # the spec's 46 zero samples after each sample
        start, end = offset, offset + len(wave)
        shdr += _name(name) + struct.pack("<IIIIIBbHH", start, end, start + PERIOD, end - PERIOD, RATE, 69, 0, 0, 1)
        offset = end + 46
    shdr += _name("EOS") + bytes(26)
    # One instrument per sample: a looping zone (sampleModes=1, then sampleID as the last generator).
    inst = ibag = igen = b""
    for i in range(2):
        inst += _name(f"inst{i}") + struct.pack("<H", i)
        ibag += struct.pack("<HH", 2 * i, 0)
        igen += struct.pack("<Hh", 54, 1) + struct.pack("<HH", 53, i)
    inst += _name("EOI") + struct.pack("<H", 2)
    ibag += struct.pack("<HH", 4, 0)
    igen += bytes(4)
    presets = [("Sine", 0, 0, 0), ("Square", 1, 0, 1), ("Kit", 0, 128, 1)]
    phdr = pbag = pgen = b""
    for i, (name, program, bank, instrument) in enumerate(presets):
        phdr += _name(name) + struct.pack("<HHHIII", program, bank, i, 0, 0, 0)
        pbag += struct.pack("<HH", i, 0)
        pgen += struct.pack("<HH", 41, instrument)  # instrument generator
    phdr += _name("EOP") + struct.pack("<HHHIII", 0, 0, len(presets), 0, 0, 0)
    pbag += struct.pack("<HH", len(presets), 0)
    pgen += bytes(4)
    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                 _chunk(b"INAM", b"AIGC test\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", smpl))
    pdta = _list(b"pdta", _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", bytes(10)),
                 _chunk(b"pgen", pgen), _chunk(b"inst", inst), _chunk(b"ibag", ibag), _chunk(b"imod", bytes(10)),
                 _chunk(b"igen", igen), _chunk(b"shdr", shdr))
    return _chunk(b"RIFF", b"sfbk" + info + sdta + pdta)


def write_sf2(path: Path) -> Path:
    """Write the test SoundFont to ``path``."""
    path.write_bytes(sf2_bytes())
    return path
