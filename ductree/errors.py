"""Errors that ductree reports to users.

`InputError` is the one exception that means "the user gave us something we
cannot use": the command line turns it into one line on stderr and exit code
2. Anything else escaping a command is an internal error (exit code 1).
"""

from __future__ import annotations

from os import PathLike


class InputError(ValueError):
    """Bad input: a file, a field or a value the user can fix.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    source : path-like, optional
        The file the bad value came from.
    line : int, optional
        1-based line number inside ``source``.
    key : str, optional
        The key, field, column or option that holds the bad value.

    Examples
    --------
    >>> str(InputError("not a number: 'x'", source="tree.swc", line=4, key="radius"))
    "tree.swc:4: radius: not a number: 'x'"
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | PathLike | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.source = None if source is None else str(source)
        self.line = line
        self.key = key
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.key is not None:
            where += f"{self.key}: "
        return where + self.message

    def located(
        self,
        *,
        source: str | PathLike | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> "InputError":
        """A copy with missing location fields filled in (existing ones kept)."""
        return InputError(
            self.message,
            source=self.source if self.source is not None else source,
            line=self.line if self.line is not None else line,
            key=self.key if self.key is not None else key,
        )


class DuctreeWarning(UserWarning):
    """A warning a user should read (cut-off ducts, dropped dust, ambiguity)."""
