"""Exceptions with one-line, user-facing messages.

The CLI prints ``error: <message>`` for any :class:`FusionbenchError` and exits with its
``exit_code``; it never shows a traceback for these.
"""
from __future__ import annotations


class FusionbenchError(Exception):
    """Base class: a problem the user can fix (bad input, missing data, unknown name)."""

    exit_code = 1


class InputError(FusionbenchError, ValueError):
    """Bad input data: unreadable image, size mismatch, NaN, empty dataset (exit code 2)."""

    exit_code = 2


class UnknownNameError(FusionbenchError, KeyError):
    """An unknown method, metric, dataset or preset name (exit code 2)."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(FusionbenchError):
    """A dataset's folder is missing under the data root (exit code 2)."""

    exit_code = 2


class StoreError(FusionbenchError):
    """The result store is unusable (other store version, corrupt record) (exit code 2)."""

    exit_code = 2


class WeightsError(FusionbenchError):
    """Model weights are missing or unreadable (exit code 2)."""

    exit_code = 2


class MissingResultError(InputError):
    """A result that should exist on disk (e.g. a published fused image) is absent."""


class MissingWeightsError(WeightsError):
    """A weights file is absent (as opposed to unreadable or mismatched)."""


class OutputError(StoreError, OSError):
    """An output cannot be written: disk full, read-only filesystem, permission, a file where a
    folder should be (exit code 2). A :class:`StoreError`, so it stops a run at once (and an
    ``OSError``, for callers that catch those)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
