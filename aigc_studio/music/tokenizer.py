"""A REMI-like event vocabulary: bar, position, program, velocity, pitch, duration, tempo.

Each bar is ``BAR`` followed by ``POS`` groups; inside a group ``PROG`` and
``VEL`` set the current instrument and loudness (emitted only when they change,
and reset at every bar so bars can be cut into training windows), then each note
is ``PITCH DUR``. The decoder accepts ANY token sequence and repairs it into
valid notes; :class:`Grammar` masks illegal tokens while sampling.
Infilling uses ``BOS [prefix bars] FILL [suffix bars] SEP [middle bars] EOS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aigc_studio.music.song import DRUM_CHANNEL, Note, Song, TempoChange, Track, bpm_to_tempo

SPECIALS = ("PAD", "BOS", "EOS", "FILL", "SEP", "BAR")
TIME_SIGNATURES = ((4, 4), (3, 4), (2, 4), (2, 2), (6, 8), (3, 8), (9, 8), (12, 8), (5, 4), (6, 4), (7, 8))
DRUM_PROGRAM = 128


@dataclass
class TokenizerConfig:
    """Resolution and ranges of the vocabulary (saved in the model card)."""

    steps_per_beat: int = 4  # 4 = sixteenth notes; 12 adds triplets
    max_bar_beats: int = 8
    max_duration_steps: int = 32
    velocity_bins: int = 8
    tempo_min: int = 40
    tempo_max: int = 216
    tempo_step: int = 8


class MusicTokenizer:
    """Encode a :class:`Song` to token ids and decode any ids back into a valid song."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = c = config or TokenizerConfig()
        self.names: list[str] = list(SPECIALS)
        self.max_positions = c.steps_per_beat * c.max_bar_beats
        self.tempo_values = list(range(c.tempo_min, c.tempo_max + 1, c.tempo_step))

        def block(prefix: str, count: int) -> int:
            start = len(self.names)
            self.names += [f"{prefix}{i}" for i in range(count)]
            return start

        self.pos0 = block("POS_", self.max_positions)
        self.pitch0 = block("PITCH_", 128)
        self.dur0 = block("DUR_", c.max_duration_steps)  # DUR_i means i + 1 steps
        self.vel0 = block("VEL_", c.velocity_bins)
        self.prog0 = block("PROG_", 129)  # 128 = drums
        self.tempo0 = block("TEMPO_", len(self.tempo_values))
        self.ts0 = block("TS_", len(TIME_SIGNATURES))
        self.ids = {name: i for i, name in enumerate(self.names)}
        self.pad, self.bos, self.eos, self.fill, self.sep, self.bar = range(6)

    @property
    def vocab_size(self) -> int:
        """Number of tokens."""
        return len(self.names)

    def to_card(self) -> dict:
        """What the model card stores to rebuild this tokenizer."""
        return {"type": "remi", **asdict(self.config)}

    @classmethod
    def from_card(cls, data: dict | None) -> MusicTokenizer:
        """Rebuild from :meth:`to_card` output."""
        data = data if isinstance(data, dict) else {}
        known = TokenizerConfig.__dataclass_fields__  # a newer card may hold more; they are ignored
        return cls(TokenizerConfig(**{k: v for k, v in data.items() if k in known}))

    # ------------------------------------------------------------ classification
    def kind(self, token: int) -> str:
        """The token's family: PAD BOS EOS FILL SEP BAR POS PITCH DUR VEL PROG TEMPO TS (or BAD)."""
        if 0 <= token < len(SPECIALS):
            return SPECIALS[token]
        for name, start, count in self._blocks():
            if start <= token < start + count:
                return name
        return "BAD"

    def _blocks(self):
        return (("POS", self.pos0, self.max_positions), ("PITCH", self.pitch0, 128),
                ("DUR", self.dur0, self.config.max_duration_steps), ("VEL", self.vel0, self.config.velocity_bins),
                ("PROG", self.prog0, 129), ("TEMPO", self.tempo0, len(self.tempo_values)),
                ("TS", self.ts0, len(TIME_SIGNATURES)))

    # ------------------------------------------------------------ quantisers
    def velocity_bin(self, velocity: int) -> int:
        """Velocity 1..127 to a bin."""
        return min(self.config.velocity_bins - 1, max(0, (int(velocity) - 1) * self.config.velocity_bins // 127))

    def bin_velocity(self, index: int) -> int:
        """Bin to a representative velocity."""
        width = 127 / self.config.velocity_bins
        return int(min(127, max(1, round((index + 0.5) * width))))

    def tempo_token(self, bpm: float) -> int:
        """Closest tempo token."""
        best = min(range(len(self.tempo_values)), key=lambda i: abs(self.tempo_values[i] - bpm))
        return self.tempo0 + best

    def ts_token(self, ts: tuple[int, int]) -> int:
        """Time-signature token (unknown signatures fall back to the closest bar length)."""
        if tuple(ts) in TIME_SIGNATURES:
            return self.ts0 + TIME_SIGNATURES.index(tuple(ts))
        length = ts[0] / ts[1]
        return self.ts0 + min(range(len(TIME_SIGNATURES)), key=lambda i: abs(TIME_SIGNATURES[i][0] / TIME_SIGNATURES[i][1] - length))

    def bar_steps(self, ts: tuple[int, int]) -> int:
        """Grid steps in one bar of ``ts`` (capped to the position vocabulary)."""
        return max(1, min(self.max_positions, self.config.steps_per_beat * 4 * ts[0] // ts[1]))

    # ------------------------------------------------------------ encoding
    def header(self, song: Song, tick: int = 0) -> list[int]:
        """BOS, time signature and tempo at ``tick``."""
        return [self.bos, self.ts_token(song.time_signature), self.tempo_token(60_000_000 / song.tempo_at(tick))]

    def encode_bars(self, song: Song) -> list[list[int]]:
        """One token list per bar (each starting with BAR), from bar 0 to the song's last bar."""
        spb = self.config.steps_per_beat
        tpb = song.ticks_per_beat
        ts = (song.time_signature[0], song.time_signature[1]) if tuple(song.time_signature) in TIME_SIGNATURES else TIME_SIGNATURES[self.ts_token(song.time_signature) - self.ts0]
        steps = self.bar_steps(ts)
        events: dict[tuple[int, int], list] = {}
        for track in song.tracks:
            program = DRUM_PROGRAM if track.is_drum else track.program
            for n in track.notes:
                step = int(round(n.start * spb / tpb))
                bar, pos = divmod(step, steps)
                dur = min(self.config.max_duration_steps, max(1, int(round(n.duration * spb / tpb))))
                events.setdefault((bar, pos), []).append((0, program, -n.pitch, -dur, n.velocity))
        for change in song.tempos[1:]:
            bar, pos = divmod(int(round(change.tick * spb / tpb)), steps)
            events.setdefault((bar, pos), []).append((-1, 0, 0, 0, change.bpm))
        last_bar = max((b for b, _ in events), default=-1)
        bars = [[self.bar] for _ in range(last_bar + 1)]
        current_bar = -1
        for (bar, pos) in sorted(events):
            out = bars[bar]
            out.append(self.pos0 + pos)
            if bar != current_bar:  # state resets per bar so windows can start at any bar
                program_state = velocity_state = None
                current_bar = bar
            seen = set()
            for kind, program, neg_pitch, dur, value in sorted(events[(bar, pos)]):
                if (kind, program, neg_pitch) in seen:
                    continue  # a unison doubling in another part of the same instrument
                seen.add((kind, program, neg_pitch))
                if kind == -1:
                    out.append(self.tempo_token(value))
                    continue
                if program != program_state:
                    out.append(self.prog0 + program)
                    program_state = program
                vbin = self.velocity_bin(value)
                if vbin != velocity_state:
                    out.append(self.vel0 + vbin)
                    velocity_state = vbin
                out += [self.pitch0 - neg_pitch, self.dur0 - dur - 1]
        return bars

    def encode(self, song: Song, eos: bool = True) -> list[int]:
        """Whole song: header, every bar, EOS."""
        tokens = self.header(song)
        for bar in self.encode_bars(song):
            tokens += bar
        return tokens + ([self.eos] if eos else [])

    # ------------------------------------------------------------ decoding
    def decode(self, tokens, ticks_per_beat: int = 480, song: Song | None = None, bar_offset: int = 0) -> Song:
        """Turn ANY token ids into a valid song (unknown or misplaced tokens are skipped or repaired).

        With ``song`` the notes are added to it (tracks matched by program) starting at ``bar_offset``;
        FILL, SEP and EOS end the decoded stream.
        """
        spb = self.config.steps_per_beat
        out = song if song is not None else Song(ticks_per_beat=ticks_per_beat)
        tpb = out.ticks_per_beat
        step_ticks = tpb / spb
        ts = out.time_signature if song is not None else (4, 4)
        tempo_set = False
        bar = bar_offset - 1
        pos = 0
        program = 0
        velocity = 80
        pitch = None
        started = False
        tracks: dict[int, Track] = {}
        if song is not None:
            for t in song.tracks:
                tracks.setdefault(DRUM_PROGRAM if t.is_drum else t.program, t)

        def add_note(p: int, steps: int) -> None:
            track = tracks.get(program)
            if track is None:
                drum = program == DRUM_PROGRAM
                from aigc_studio.music.midi_io import program_name

                used = {t.channel for t in out.tracks}
                channel = DRUM_CHANNEL if drum else next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
                track = Track(program_name(program, drum), 0 if drum else program, channel)
                tracks[program] = track
                out.tracks.append(track)
            bar_ticks = out.bar_ticks if song is not None else tpb * 4 * ts[0] // ts[1]
            start = max(0, bar) * bar_ticks + int(round(pos * step_ticks))
            track.notes.append(Note(p, start, max(1, int(round(steps * step_ticks))), velocity, generated=True))

        for raw in tokens:
            token = int(raw)
            kind = self.kind(token)
            if kind in ("EOS", "FILL", "SEP") and started:
                break
            if kind == "BOS":
                started = True
                continue
            started = True
            if kind != "DUR" and pitch is not None:
                add_note(pitch, 1)  # a pitch without duration becomes a one-step note
                pitch = None
            if kind == "BAR":
                bar += 1
                pos = 0
            elif kind == "POS":
                pos = token - self.pos0
                bar = max(bar, bar_offset)
            elif kind == "PITCH":
                pitch = token - self.pitch0
                bar = max(bar, bar_offset)
            elif kind == "DUR":
                if pitch is not None:
                    add_note(pitch, token - self.dur0 + 1)
                    pitch = None
            elif kind == "VEL":
                velocity = self.bin_velocity(token - self.vel0)
            elif kind == "PROG":
                program = token - self.prog0
            elif kind == "TEMPO":
                tick = max(0, bar) * tpb * 4 * ts[0] // ts[1] + int(round(pos * step_ticks))
                change = TempoChange(tick, bpm_to_tempo(self.tempo_values[token - self.tempo0]))
                if song is None:
                    if not tempo_set or tick == 0:
                        out.tempos = [t for t in out.tempos if t.tick != tick and (tempo_set or t.tick != 0)]
                    out.tempos.append(change)
                    out.tempos.sort(key=lambda c: c.tick)
                    tempo_set = True
            elif kind == "TS" and song is None and bar < 0 and not any(t.notes for t in out.tracks):
                ts = TIME_SIGNATURES[token - self.ts0]
                out.time_signature = ts
        if pitch is not None:
            add_note(pitch, 1)
        if not out.tempos or out.tempos[0].tick != 0:
            out.tempos.insert(0, TempoChange(0, 500_000))
        for t in out.tracks:
            t.sort()
        return out


class Grammar:
    """Tracks where a sequence is and which tokens may come next (for masked sampling).

    ``target_bars``: EOS is forbidden before that many bars; ``at_end`` turns true when the
    model asks for one bar more than wanted, so the sampler stops there.
    """

    def __init__(self, tokenizer: MusicTokenizer, time_signature=(4, 4), target_bars: int | None = None,
                 phase: str = "start", allow_eos: bool = True) -> None:
        self.tok = tokenizer
        self.steps = tokenizer.bar_steps(time_signature)
        self.target_bars = target_bars
        self.allow_eos = allow_eos
        self.phase = phase  # open, start, bar, pos, pitch, note
        self.pos = -1
        self.bars = 0
        self.at_end = False
        self._cache: dict = {}

    def update(self, token: int) -> None:
        """Advance past ``token`` (assumed allowed)."""
        kind = self.tok.kind(token)
        if kind == "BAR":
            if self.target_bars is not None and self.bars >= self.target_bars:
                self.at_end = True
            self.bars += 1
            self.phase, self.pos = "bar", -1
        elif kind == "POS":
            self.phase, self.pos = "pos", token - self.tok.pos0
        elif kind in ("VEL", "PROG"):
            self.phase = "pos"
        elif kind == "TEMPO":
            self.phase = "pos" if self.phase in ("pos", "note") else self.phase
        elif kind == "PITCH":
            self.phase = "pitch"
        elif kind == "DUR":
            self.phase = "note"
        elif kind in ("EOS", "FILL", "SEP"):
            self.at_end = True

    def allowed(self) -> list[int]:
        """Ids allowed next (cached per state)."""
        eos_ok = self.allow_eos and (self.target_bars is None or self.bars >= self.target_bars)
        key = (self.phase, self.pos, eos_ok)
        if key not in self._cache:
            self._cache[key] = self._allowed(eos_ok)
        return self._cache[key]

    def _allowed(self, eos_ok: bool) -> list[int]:
        t = self.tok
        ends = [t.eos] if eos_ok else []
        later_pos = list(range(t.pos0 + self.pos + 1, t.pos0 + self.steps))
        pitches = list(range(t.pitch0, t.pitch0 + 128))
        setters = list(range(t.vel0, t.vel0 + t.config.velocity_bins)) + list(range(t.prog0, t.prog0 + 129))
        tempos = list(range(t.tempo0, t.tempo0 + len(t.tempo_values)))
        if self.phase == "open":  # a continuation or infill must start a new bar
            return [t.bar]
        if self.phase == "start":
            return [t.bar] + tempos + list(range(t.ts0, t.ts0 + len(TIME_SIGNATURES))) + ends
        if self.phase == "bar":
            return [t.bar] + later_pos + ends
        if self.phase == "pos":
            return pitches + setters + tempos
        if self.phase == "pitch":
            return list(range(t.dur0, t.dur0 + t.config.max_duration_steps))
        return pitches + setters + later_pos + [t.bar] + ends  # after a note
