"""Synthetic long-memory tasks of Bai, Kolter & Koltun (2018), "An Empirical Evaluation of
Generic Convolutional and Recurrent Networks for Sequence Modeling" (the TCN paper).

Each generator is a pure function of its ``torch.Generator``: the same seeded generator gives the
same tensors, and the global RNG is neither read nor advanced.
"""

from __future__ import annotations

import math

import torch

SYMBOLS = 8  # copy memory draws its symbols from 1..SYMBOLS
DELIMITER = SYMBOLS + 1


def adding_problem(
    n: int, seq_len: int, generator: torch.Generator, one_per_half: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` adding-problem examples of length ``seq_len`` (T): ``x`` (n, 2, T) and ``y`` (n, 1).

    Channel 0 of ``x`` holds T values uniform in [0, 1); channel 1 is zero except for two 1s at
    two distinct positions drawn uniformly (the TCN paper's task, Sec. 4, and its reference code
    locuslab/TCN ``adding_problem``). With ``one_per_half`` the first marker lies in
    [0, floor(T/2)) and the second in [ceil(T/2), T) instead (Le et al. 2015; Arjovsky et al.
    2016), which guarantees that every example needs long memory. The target is the sum of the
    two marked values. Both tensors are float32.

    Trivial baseline: always predicting 1 (the mean of the target) gives an expected MSE of
    Var(u1 + u2) = 1/6 ~ 0.1667 (the TCN paper's text says "about 0.1767").
    """
    if seq_len < 2:
        raise ValueError(f"the adding problem needs seq_len >= 2, got {seq_len}")
    values = torch.rand(n, seq_len, generator=generator)
    if one_per_half:
        first = torch.randint(0, seq_len // 2, (n,), generator=generator)
        second = torch.randint(math.ceil(seq_len / 2), seq_len, (n,), generator=generator)
    else:
        first = torch.randint(0, seq_len, (n,), generator=generator)
        # Uniform over the other T - 1 positions: draw from T - 1 slots and skip ``first``.
        second = torch.randint(0, seq_len - 1, (n,), generator=generator)
        second = second + (second >= first).long()
    positions = torch.stack([first, second], dim=1)
    markers = torch.zeros(n, seq_len).scatter_(1, positions, 1.0)
    x = torch.stack([values, markers], dim=1)
    y = values.gather(1, positions).sum(dim=1, keepdim=True)
    return x, y


def copy_memory(
    n: int, blank_len: int, generator: torch.Generator, seq_len: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` copy-memory examples: ``x`` and ``y`` int64, both (n, blank_len + 2 * seq_len).

    The input starts with ``seq_len`` symbols uniform in 1..8, waits ``blank_len`` steps, and the
    delimiter 9 asks for the symbols, which the model must output over the last ``seq_len``
    steps; the target is 0 everywhere else. With S = seq_len, T = blank_len and s = symbols::

        position  0 .. S-1 | S .. S+T-2 | S+T-1 .. 2S+T-1
        x         s1 .. sS |  0  ..  0  |  9  ..  9     (T-1 zeros, S+1 delimiters)

        position  0 .. S-1 | S .. S+T-1 | S+T .. 2S+T-1
        y         0  ..  0 |  0  ..  0  | s1 .. sS       (S+T zeros, then the symbols)

    This is the layout of the TCN reference code (locuslab/TCN ``copy_memory``), which feeds
    ``x`` as floats; here it is int64 so that it can index an embedding or be one-hot encoded.

    Trivial baseline: a memoryless model predicting 0 for the first S + T steps and a uniform
    guess over the 8 symbols for the last S has cross-entropy S ln 8 / (T + 2S), i.e.
    10 ln 8 / (T + 20) for the paper's S = 10.
    """
    if blank_len < 1 or seq_len < 1:
        raise ValueError(
            f"copy memory needs blank_len >= 1 and seq_len >= 1, got {blank_len}, {seq_len}"
        )
    symbols = torch.randint(1, SYMBOLS + 1, (n, seq_len), generator=generator)
    x = torch.cat(
        [
            symbols,
            torch.zeros(n, blank_len - 1, dtype=torch.int64),
            torch.full((n, seq_len + 1), DELIMITER, dtype=torch.int64),
        ],
        dim=1,
    )
    y = torch.cat([torch.zeros(n, seq_len + blank_len, dtype=torch.int64), symbols], dim=1)
    return x, y
