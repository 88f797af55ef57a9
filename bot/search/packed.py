"""Many short strings kept in one bytes buffer, so that a million titles cost no Python objects."""

from __future__ import annotations

from array import array

import numpy as np


class PackedStringsBuilder:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ends = array("q")

    def append(self, text: str) -> None:
        self._buffer += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._buffer))

    def __len__(self) -> int:
        return len(self._ends)

    def finish(self) -> PackedStrings:
        ends = (
            np.frombuffer(self._ends, dtype=np.int64).copy()
            if self._ends
            else np.zeros(0, np.int64)
        )
        return PackedStrings(bytes(self._buffer), ends)


class PackedStrings:
    """A read-only sequence of strings (its buffer may be a memory-mapped file)."""

    def __init__(self, buffer: bytes | memoryview, ends: np.ndarray) -> None:
        self._buffer = buffer
        self._ends = ends

    @property
    def buffer(self) -> bytes | memoryview:
        return self._buffer

    @property
    def ends(self) -> np.ndarray:
        return self._ends

    def concat(self, other: PackedStrings) -> PackedStrings:
        """These strings followed by ``other``'s, in a new sequence."""
        if not len(other):
            return self
        size = int(self._ends[-1]) if len(self._ends) else 0
        buffer = bytes(self._buffer[:size]) + bytes(other._buffer)
        return PackedStrings(buffer, np.concatenate([self._ends, other._ends + size]))

    def tolist(self) -> list[str]:
        return [self[i] for i in range(len(self))]

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        end = int(self._ends[index])
        start = int(self._ends[index - 1]) if index > 0 else 0
        return str(self._buffer[start:end], "utf-8", "surrogatepass")

    @property
    def nbytes(self) -> int:
        return len(self._buffer) + self._ends.nbytes
