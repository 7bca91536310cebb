"""What a generated fragment may hold: key and scale, instruments, polyphony; and the check every fragment passes.

:class:`DecodeLimits` comes from the model card (what the training data ever had)
plus the user's request (key lock, instruments); :class:`~aigc_studio.music.tokenizer.Grammar`
masks the tokens that would break it, and :func:`fragment_problems` checks the
decoded result (MIDI round trip, bar count, polyphony, note lengths) before a
job returns it.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

from aigc_studio.errors import InputError
from aigc_studio.music.song import Song

# Scales as semitones above the tonic. "minor" is natural minor plus the raised seventh (the
# leading tone of harmonic minor), as tonal music (and the app's key analysis) uses it.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10, 11),
    "natural minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# General MIDI program families (8 programs each) by the names a musician types; "drums" is channel 10.
FAMILIES = (
    "piano",
    "chromatic percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth lead",
    "synth pad",
    "synth effects",
    "ethnic",
    "percussive",
    "sound effects",
)
DRUMS = 128


@dataclass(frozen=True)
class Key:
    """A tonic pitch class and a scale name from :data:`SCALES`."""

    tonic: int
    scale: str = "major"

    @property
    def pitch_classes(self) -> frozenset[int]:
        """The pitch classes (0 = C) the scale allows."""
        return frozenset((self.tonic + step) % 12 for step in SCALES[self.scale])

    @property
    def name(self) -> str:
        """E.g. "D major", "F# dorian"."""
        return f"{NOTE_NAMES[self.tonic]} {self.scale}"

    def __str__(self) -> str:
        return self.name


def parse_key(text: str, scale: str | None = None) -> Key:
    """``"D major"``, ``"F# minor"``, ``"Bb dorian"``, ``"C"`` (major); ``scale`` overrides the text's scale."""
    match = re.fullmatch(r"\s*([A-Ga-g])\s*([#b♯♭]?)\s*(.*?)\s*", text or "")
    if not match:
        raise InputError(
            f'Unknown key "{text}": write a note name A-G (with # or b) and a scale, e.g. "D major" or "F# dorian".'
        )
    letter, accidental, rest = match.groups()
    tonic = (_LETTERS[letter.upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)) % 12
    return Key(tonic, parse_scale(scale or rest or "major"))


def parse_scale(text: str) -> str:
    """A scale name from :data:`SCALES` (case and spacing forgiven; "m" means minor)."""
    name = " ".join(text.lower().replace("-", " ").replace("_", " ").split())
    name = {"m": "minor", "maj": "major", "min": "minor", "pentatonic": "major pentatonic"}.get(name, name)
    if name not in SCALES:
        raise InputError(f'Unknown scale "{text}". Scales: {", ".join(SCALES)}.')
    return name


def detect_key(song: Song) -> Key | None:
    """The best-fitting major or minor key of the song's pitched notes (Krumhansl), None without notes."""
    from aigc_studio.music.analysis import estimate_key, pitched_notes

    if not pitched_notes(song):
        return None
    tonic, mode = estimate_key(song)
    return Key(tonic, mode)


def in_scale_share(song: Song, key: Key) -> float:
    """Share of the pitched notes whose pitch class is in ``key``'s scale (1.0 without notes)."""
    from aigc_studio.music.analysis import pitched_notes

    notes = pitched_notes(song)
    allowed = key.pitch_classes
    return sum(1 for n in notes if n.pitch % 12 in allowed) / len(notes) if notes else 1.0


def snap_to_scale(notes: list, key: Key) -> list:
    """``notes`` with each off-scale pitch moved to the nearest scale pitch (down on a tie)."""
    allowed = key.pitch_classes
    out = []
    for n in notes:
        pitch = n.pitch
        if pitch % 12 not in allowed:
            pitch = min(
                (p for p in range(max(0, pitch - 2), min(127, pitch + 2) + 1) if p % 12 in allowed),
                key=lambda p: (abs(p - n.pitch), p),
                default=pitch,
            )
        out.append(n if pitch == n.pitch else n.__class__(pitch, n.start, n.duration, n.velocity, n.generated))
    return out


def family_of(program: int) -> str:
    """A program's family name ("drums" for the drum kit)."""
    return "drums" if program == DRUMS else FAMILIES[max(0, min(127, program)) // 8]


def parse_instruments(text: str | list[str], available: frozenset[int] | None) -> frozenset[int]:
    """Programs for ``"drums,bass"`` (families, GM program numbers 0-127 or "drums"), limited to ``available``.

    Raises InputError naming what the model lacks, so a request never silently writes nothing.
    """
    words = [w.strip().lower() for w in (text.split(",") if isinstance(text, str) else text) if w.strip()]
    if not words:
        raise InputError("Choose at least one instrument.")
    chosen: set[int] = set()
    for word in words:
        if word in ("drums", "drum", "percussion kit", "drum kit"):
            wanted = {DRUMS}
        elif word.isdigit() and 0 <= int(word) <= 127:
            wanted = {int(word)}
        elif word in FAMILIES or word.rstrip("s") in FAMILIES:
            family = FAMILIES.index(word if word in FAMILIES else word.rstrip("s"))
            wanted = set(range(8 * family, 8 * family + 8))
        else:
            raise InputError(
                f'Unknown instrument "{word}". Use drums, a family ({", ".join(FAMILIES)}) '
                "or a General MIDI program number 0-127."
            )
        if available is not None:
            wanted &= available
            if not wanted:
                raise InputError(
                    f'This model was not trained on "{word}"; it knows {", ".join(describe_programs(available))}.'
                )
        chosen |= wanted
    return frozenset(chosen)


def describe_programs(programs: frozenset[int]) -> list[str]:
    """Family names of ``programs``, in General MIDI order (drums last)."""
    return sorted(
        {family_of(p) for p in programs}, key=lambda f: (f == "drums", FAMILIES.index(f) if f in FAMILIES else 0)
    )


@dataclass(frozen=True)
class DecodeLimits:
    """What the decoder lets the model write: polyphony, instruments and (with a key lock) pitch classes.

    ``None`` means "no limit". The pitch-class lock applies to pitched instruments, never to drums.
    """

    max_onset_notes: int | None = None
    max_sounding_notes: int | None = None
    programs: frozenset[int] | None = None
    pitch_classes: frozenset[int] | None = None
    max_duration_ticks: int | None = None
    max_parts: int | None = None  # instrument families in one piece (one program each)
    onset_by_family: tuple[tuple[int, int], ...] | None = None  # (family, most notes at one onset); drums 16

    @classmethod
    def from_card(cls, card, key: Key | None = None, instruments: frozenset[int] | None = None) -> DecodeLimits:
        """The card's training-data limits plus the user's key lock and instrument choice."""
        data = dict((card.extra or {}).get("limits") or {}) if card is not None else {}
        trained = frozenset(data["programs"]) if data.get("programs") is not None else None
        programs = instruments if instruments is not None else trained
        if instruments is not None and trained is not None:
            programs = instruments & trained
        return cls(
            data.get("max_onset_notes"),
            data.get("max_sounding_notes"),
            programs,
            key.pitch_classes if key is not None else None,
            max_parts=data.get("max_parts"),
            onset_by_family=tuple((int(f), int(n)) for f, n in data["max_onset_by_family"].items())
            if data.get("max_onset_by_family")
            else None,
        )

    def onset_cap(self, program: int) -> int | None:
        """Most notes of ``program``'s family at one onset (None: no cap)."""
        return dict(self.onset_by_family or ()).get(program // 8)

    def allows_program(self, program: int) -> bool:
        """Whether notes of ``program`` (128 = drums) may be written."""
        return self.programs is None or program in self.programs


def max_onset_notes(song: Song) -> int:
    """Most notes (all tracks) starting at one tick."""
    counts = Counter(n.start for t in song.tracks for n in t.notes)
    return max(counts.values(), default=0)


def max_sounding_notes(song: Song) -> int:
    """Most notes (all tracks) sounding at one time."""
    events = sorted(
        (tick, change) for t in song.tracks for n in t.notes for tick, change in ((n.start, 1), (n.end, -1))
    )
    most = current = 0
    for _, change in events:  # ends sort before starts at the same tick
        current += change
        most = max(most, current)
    return most


def fragment_problems(fragment: Song, first_bar: int, bars: int, limits: DecodeLimits) -> list[str]:
    """Why ``fragment`` (new notes for bars [first_bar, first_bar + bars)) is broken; empty when it is sound.

    Checks: the MIDI file it writes reads back in mido and pretty_midi with the same note count;
    every note lies inside the bars asked for, lasts at least one tick and no longer than allowed;
    no onset or moment holds more notes than the card allows; only allowed instruments and
    (with a key lock) in-scale pitches.
    """
    problems: list[str] = []
    start, end = first_bar * fragment.bar_ticks, (first_bar + bars) * fragment.bar_ticks
    notes = [(t, n) for t in fragment.tracks for n in t.notes]
    outside = sum(1 for _, n in notes if n.start < start or n.end > end)
    if outside:
        problems.append(f"{outside} notes outside bars {first_bar + 1}-{first_bar + bars}")
    bad_length = sum(
        1 for _, n in notes if n.duration < 1 or (limits.max_duration_ticks and n.duration > limits.max_duration_ticks)
    )
    if bad_length:
        problems.append(f"{bad_length} notes with an impossible length")
    if limits.max_onset_notes is not None and max_onset_notes(fragment) > limits.max_onset_notes:
        problems.append(f"{max_onset_notes(fragment)} notes at one onset (the model allows {limits.max_onset_notes})")
    if limits.max_sounding_notes is not None and max_sounding_notes(fragment) > limits.max_sounding_notes:
        problems.append(f"{max_sounding_notes(fragment)} notes at once (the model allows {limits.max_sounding_notes})")
    if limits.programs is not None:
        stray = {family_of(DRUMS if t.is_drum else t.program) for t, _ in notes} - {
            family_of(p) for p in limits.programs
        }
        if stray:
            problems.append(f"instruments not asked for: {', '.join(sorted(stray))}")
    if limits.pitch_classes is not None:
        off = sum(1 for t, n in notes if not t.is_drum and n.pitch % 12 not in limits.pitch_classes)
        if off:
            problems.append(f"{off} notes outside the locked scale")
    problems += _round_trip_problems(fragment)
    return problems


def _round_trip_problems(song: Song) -> list[str]:
    """The file ``song`` writes must read back with the same notes in mido and in pretty_midi."""
    import mido

    from aigc_studio.music.midi_io import midi_bytes

    data = midi_bytes(song)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # a file we wrote that mido cannot read is exactly what this check is for
        return [f"the MIDI file does not parse ({exc})"]
    mido_notes = sum(1 for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0)
    problems = []
    if mido_notes != song.note_count:
        problems.append(f"the MIDI file holds {mido_notes} notes, not {song.note_count}")
    try:
        import pretty_midi
    except ImportError:
        return problems
    try:
        pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:
        return problems + [f"pretty_midi cannot read the MIDI file ({exc})"]
    read = sorted((pm.time_to_tick(n.start), pm.time_to_tick(n.end), n.pitch) for i in pm.instruments for n in i.notes)
    if len(read) != song.note_count:
        return problems + [f"pretty_midi reads {len(read)} notes, not {song.note_count}"]
    wrote = sorted((n.start, n.end, n.pitch) for t in song.tracks for n in t.notes)
    # Overlapping notes of one pitch on one channel read back with other lengths; allow a tick of rounding.
    changed = sum(1 for a, b in zip(read, wrote) if a[2] != b[2] or abs(a[0] - b[0]) > 1 or abs(a[1] - b[1]) > 1)
    if changed:
        problems.append(f"pretty_midi reads {changed} notes with other times or pitches")
    return problems
