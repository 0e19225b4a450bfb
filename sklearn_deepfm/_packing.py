"""Compact saved forms of a fitted input rule's many small values.

skops writes a tuple or an object array element by element, as JSON nodes,
and a NumPy array of numbers or strings as one ``.npy`` file: a model of
100,000 one-hot columns saved to a skops file of 244 MiB (pickle: 9 MiB),
most of it the columns' indices and names, written one node each.  Column
indices are therefore saved as an int64 array, and names and labels that
are all strings as a NumPy array of strings (unless one long string would
make it much larger than the strings themselves: a NumPy string array is
as wide as its longest string); loading turns them back.
"""

import numpy as np

# a string array is kept only where it takes at most this many times the
# characters of its strings
MAX_PADDING = 4


def packed_ints(values):
    """A tuple of ints as an int64 array (kept as given if it is not one)."""
    if isinstance(values, tuple) and all(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        for value in values
    ):
        return np.asarray(values, dtype=np.int64)
    return values


def unpacked_ints(values):
    """:func:`packed_ints` undone: a tuple of Python ints."""
    if isinstance(values, np.ndarray):
        return tuple(values.tolist())
    return values


def packed_strings(values):
    """A tuple or object array of strings as a NumPy string array, tagged
    with the container to restore (kept as given otherwise)."""
    if isinstance(values, tuple):
        kind = "tuple"
    elif isinstance(values, np.ndarray) and values.dtype == object:
        kind = "objects"
    else:
        return values
    if not len(values) or not all(
        # (NumPy strips a string's trailing NULs)
        type(value) is str and not value.endswith("\x00")
        for value in values
    ):
        return values
    longest = max(map(len, values))
    if longest * len(values) > MAX_PADDING * sum(map(len, values)) + 1024:
        return values
    # ASCII as bytes: a character each, where a NumPy str takes four
    ascii = all(value.isascii() for value in values)
    return {"packed": kind, "strings": np.array(values, dtype="S" if ascii else str)}


def unpacked_strings(values):
    """:func:`packed_strings` undone."""
    if not (isinstance(values, dict) and "packed" in values):
        return values
    strings = values["strings"]
    if strings.dtype.kind == "S":
        strings = np.char.decode(strings, "ascii")
    strings = strings.astype(object)
    if values["packed"] == "tuple":
        return tuple(strings.tolist())
    return strings
