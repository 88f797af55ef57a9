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
    """A read-only sequence of strings."""

    def __init__(self, buffer: bytes, ends: np.ndarray) -> None:
        self._buffer = buffer
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        end = int(self._ends[index])
        start = int(self._ends[index - 1]) if index > 0 else 0
        return self._buffer[start:end].decode("utf-8", "surrogatepass")

    @property
    def nbytes(self) -> int:
        return len(self._buffer) + self._ends.nbytes
