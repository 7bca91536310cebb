"""Extract the General MIDI songs of Debian's ``freedoom`` package (BSD-3) into .mid files.

Usage: python resources/recipes/music/prepare_freedoom.py OUT_DIR [freedoom_*.deb or folder with the WADs]

Without a second argument it runs ``apt-get download freedoom`` into a temporary
folder and unpacks the .deb with ``dpkg-deb``. The music lumps (``D_*``) of
freedoom1.wad and freedoom2.wad are standard MIDI files ("MThd"); lumps stored
in the older MUS format are skipped and counted. Identical songs (some levels
reuse a track) are written once. The package's copyright file is copied next to
the songs, because the BSD-3 licence asks for its notice to be kept.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

WADS = ("freedoom1.wad", "freedoom2.wad")


def wad_lumps(path: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of every lump in a Doom WAD file (IWAD or PWAD)."""
    data = path.read_bytes()
    ident, count, table = struct.unpack_from("<4sii", data, 0)
    if ident not in (b"IWAD", b"PWAD"):
        raise ValueError(f"{path} is not a WAD file")
    lumps = []
    for i in range(count):
        offset, size, raw = struct.unpack_from("<ii8s", data, table + 16 * i)
        lumps.append((raw.split(b"\0")[0].decode("ascii", "replace"), data[offset : offset + size]))
    return lumps


def find_wads(source: Path) -> tuple[list[Path], Path | None]:
    """The WAD files and the copyright file under an unpacked package (or a folder holding them)."""
    wads = sorted(p for p in source.rglob("*.wad") if p.name in WADS)
    copyright_file = next(iter(sorted(source.rglob("copyright"))), None)
    return wads, copyright_file


def unpack(deb: Path | None, work: Path) -> Path:
    """Unpack ``deb`` (downloaded with apt-get when None) into ``work``; returns the folder."""
    if deb is None:
        subprocess.run(["apt-get", "download", "freedoom"], cwd=work, check=True)
        deb = next(work.glob("freedoom_*.deb"))
    target = work / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return target


def main(out_dir: str, source: str | None = None) -> int:
    """Write one .mid per distinct music lump into ``out_dir``; returns the number written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(source) if source else None
        folder = src if src is not None and src.is_dir() else unpack(src, Path(tmp))
        wads, copyright_file = find_wads(folder)
        if not wads:
            raise SystemExit(f"no freedoom WAD files under {folder}")
        if copyright_file is not None:
            shutil.copy(copyright_file, out / "COPYRIGHT-freedoom.txt")
        seen: set[str] = set()
        written = duplicates = not_midi = 0
        for wad in wads:
            for name, data in wad_lumps(wad):
                if not name.startswith("D_"):
                    continue
                if not data.startswith(b"MThd"):
                    not_midi += 1
                    continue
                digest = hashlib.sha256(data).hexdigest()
                if digest in seen:
                    duplicates += 1
                    continue
                seen.add(digest)
                (out / f"{wad.stem}_{name[2:].lower()}.mid").write_bytes(data)
                written += 1
    print(f"wrote {written} songs to {out} ({duplicates} duplicates, {not_midi} not MIDI)")
    return written


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "freedoom", sys.argv[2] if len(sys.argv) > 2 else None)
