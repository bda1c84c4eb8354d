"""The seeds a config may give: whole numbers from 0 to 2**32 - 1, what numpy, torch and Python all accept."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

MAX_SEED = 2**32 - 1


def _check_seed(value: int) -> int:
    if not 0 <= value <= MAX_SEED:
        shown = str(value) if len(str(value)) <= 24 else f"a number of {len(str(abs(value)))} digits"
        raise ValueError(f"a seed is a whole number from 0 to {MAX_SEED}, not {shown}")
    return value


Seed = Annotated[int, AfterValidator(_check_seed)]
