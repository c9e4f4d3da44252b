"""Resident codes: 8 characters a resident can read aloud and type, keyed by a deployment secret.

A code is ``blake2b(key=secret, area || NUL || household_id)`` read as a number and written in the
31-symbol alphabet below (digits 2-9, letters without I, L and O, so nothing reads as 0/O/1/I/L).
Eight symbols carry 31**8 ≈ 8.5e11 values, i.e. 39.6 bits: one symbol short of 32 would be needed
for a full 40 bits, so the alphabet's rule and "8 characters" together cap the entropy there (see
`CODE_BITS`). Without the secret a code cannot be derived from the registry id; with it, the same
household in the same area gets the same code in every plan and every round.

Codes are unique within an area: when two households' hashes meet (expected ≈ n²/1.7e12 times, a
dozen in a 4.7 M-household city), the household whose id sorts later takes the next candidate
(the hash of ``… || NUL || attempt``), so the result depends only on the secret, the area and the
set of ids.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALPHABET",
    "CODE_BITS",
    "CODE_LENGTH",
    "code_secret",
    "normalise_code",
    "resident_codes",
]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_BITS = CODE_LENGTH * math.log2(len(ALPHABET))
_SPACE = len(ALPHABET) ** CODE_LENGTH  # < 2**64
_MIN_SECRET_BYTES = 32
_LOOKALIKE = str.maketrans({"0": "O", "1": "I"})  # typed for a letter that is not in the alphabet


def code_secret(env: dict[str, str] | None = None, home: Path | None = None) -> bytes:
    """The deployment's code secret: ``SAMPLER_CODE_SECRET`` (≥ 32 characters) or a key file.

    Without the variable, the secret is kept in ``SAMPLER_HOME`` (default ``~/.local/share/sampler``)
    as ``code.key`` (0600), made on first use; every plan of this deployment then shares it.
    """
    env = dict(os.environ) if env is None else env
    text = env.get("SAMPLER_CODE_SECRET", "")
    if text:
        if len(text) < _MIN_SECRET_BYTES:
            raise ValueError("SAMPLER_CODE_SECRET must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return text.encode("utf-8")
    base = home or Path(env.get("SAMPLER_HOME") or Path.home() / ".local" / "share" / "sampler")
    path = base / "code.key"
    if not path.exists():
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip().encode("ascii")


def _digests(secret: bytes, area: bytes, households: Sequence[str], attempt: int) -> npt.NDArray[np.uint64]:
    """The keyed 64-bit hash of every household id (one blake2b call each, ~1 µs)."""
    key = secret[:64]
    suffix = b"" if attempt == 0 else b"\0" + str(attempt).encode("ascii")
    prefix = area + b"\0"
    b2 = hashlib.blake2b
    data = b"".join([b2(prefix + h.encode("utf-8") + suffix, key=key, digest_size=8).digest()
                     for h in households])
    return np.frombuffer(data, dtype=">u8").astype(np.uint64)


def _encode(numbers: npt.NDArray[np.uint64]) -> npt.NDArray[np.bytes_]:
    """Numbers (any 64-bit value) as CODE_LENGTH symbols of ALPHABET, least significant first."""
    n = numbers % np.uint64(_SPACE)
    symbols = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
    out = np.empty((len(n), CODE_LENGTH), dtype=np.uint8)
    base = np.uint64(len(ALPHABET))
    for j in range(CODE_LENGTH):
        out[:, j] = symbols[(n % base).astype(np.int64)]
        n = n // base
    return out.view(f"S{CODE_LENGTH}").ravel()


def resident_codes(area: str, household_ids: Sequence[str] | npt.NDArray[np.object_],
                   secret: bytes) -> npt.NDArray[np.object_]:
    """One code per household id (same order), unique within the area."""
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError("the code secret must be at least 32 bytes")
    area_b = area.encode("utf-8")
    ids = [str(h) for h in household_ids]
    raw = _encode(_digests(secret, area_b, ids, 0))
    uniq, counts = np.unique(raw, return_counts=True)
    codes = raw.astype(f"U{CODE_LENGTH}").astype(object)
    if not (counts > 1).any():
        return codes
    # Collisions: of the households sharing a code, the smallest id keeps it; the others try the
    # next candidate in id order until one is free.
    taken = set(codes.tolist())
    for code in uniq[counts > 1]:
        members = sorted(np.flatnonzero(raw == code).tolist(), key=ids.__getitem__)
        for i in members[1:]:
            attempt = 1
            while True:
                candidate = str(_encode(_digests(secret, area_b, [ids[i]], attempt))[0].decode("ascii"))
                if candidate not in taken:
                    break
                attempt += 1
            codes[i] = candidate
            taken.add(candidate)
    return codes


def normalise_code(text: str) -> str:
    """What a resident typed, as a code: upper case, spaces and dashes dropped, 0/1 read as O/I.

    The result may still not be a valid code (O and I are not in the alphabet): callers compare it
    with the plan's codes, and a miss is a miss.
    """
    return "".join(ch for ch in text.upper().translate(_LOOKALIKE) if ch.isalnum())
