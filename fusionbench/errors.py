"""Exceptions with one-line, user-facing messages.

The CLI prints ``error: <message>`` for any :class:`FusionbenchError` and exits with its
``exit_code``; it never shows a traceback for these.

The rule (what the API docstrings promise): **every error the user can fix is a**
:class:`FusionbenchError` **and a** :class:`ValueError`; in addition

* an unknown name (method, metric, dataset, preset, variant) is also a :class:`KeyError`
  (:class:`UnknownNameError`),
* a file or folder that should exist and does not (dataset folder, weights file, published or
  user fused image) is also a :class:`FileNotFoundError` (:class:`DatasetNotFoundError`,
  :class:`MissingWeightsError`, :class:`MissingResultError`).

So ``except ValueError`` catches every user error, ``except KeyError`` an unknown name, and
``except FusionbenchError`` exactly fusionbench's own. Programming errors (bugs) are never
``FusionbenchError``.
"""
from __future__ import annotations


class FusionbenchError(ValueError):
    """Base class: a problem the user can fix (bad input, missing data, unknown name)."""

    exit_code = 1

    def __str__(self) -> str:  # KeyError/OSError bases would quote or decorate the message
        return str(self.args[0]) if self.args else ""


class InputError(FusionbenchError):
    """Bad input data: unreadable image, size mismatch, NaN, empty dataset, bad option (exit 2)."""

    exit_code = 2


class UnknownNameError(FusionbenchError, KeyError):
    """An unknown method, metric, dataset or preset name (a ``KeyError`` too; exit code 2)."""

    exit_code = 2


class DatasetNotFoundError(FusionbenchError, FileNotFoundError):
    """A dataset's folder is missing under the data root (a ``FileNotFoundError`` too; exit 2)."""

    exit_code = 2


class StoreError(FusionbenchError):
    """The result store is unusable (other store version, corrupt record) (exit code 2)."""

    exit_code = 2


class WeightsError(FusionbenchError):
    """Model weights are missing or unreadable (exit code 2)."""

    exit_code = 2


class MissingResultError(InputError, FileNotFoundError):
    """A result that should exist on disk (e.g. a published fused image) is absent."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """A weights file is absent (as opposed to unreadable or mismatched)."""


class OutputError(StoreError, OSError):
    """An output cannot be written: disk full, read-only filesystem, permission, a file where a
    folder should be (exit code 2). A :class:`StoreError`, so it stops a run at once (and an
    ``OSError``, for callers that catch those)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
