r"""The artificial propositional-logic language of Bowman, Manning & Potts (2015), "Tree-structured
composition in neural networks without tree-structured architectures": pairs of formulas labelled
with one of seven mutually exclusive semantic relations, grouped by their number of operators.
ON-LSTM (Shen et al. 2019, Sec. 5.4) trains on the pairs with at most 6 operators and tests on
every length up to 12. The data set is generated here, seeded (Bowman's files are not in
``data/``); the procedure mirrors Bowman's generator (``generate_neg_set_data.py``, shipped in the
ON-LSTM repository's ``propositional_logic`` branch).

The language. Six variables ``a``-``f``; ``and``, ``or`` (binary) and ``not``, fully bracketed in
Bowman's infix form: ``( x ( and y ) )``, ``( not x )``; a variable stands bare. The meaning of a
formula is the set of truth assignments (*worlds*) of the six variables that satisfy it, a set of
the 64 worlds kept as a 64-bit integer (world :math:`w` makes variable :math:`i` true iff bit
:math:`i` of :math:`w` is set).

The relations (MacCartney & Manning's natural-logic relations, computed exactly from the sets
:math:`L` and :math:`R` of the two formulas; both must be neither empty nor every world):

=======  ===================  =========================================
label    relation             sets
=======  ===================  =========================================
``=``    equivalence          :math:`L = R`
``<``    entailment           :math:`L \subset R`
``>``    reverse entailment   :math:`L \supset R`
``^``    negation             :math:`L \cap R = \emptyset,\ L \cup R = \text{all}`
``|``    alternation          :math:`L \cap R = \emptyset,\ L \cup R \neq \text{all}`
``v``    cover                :math:`L \cap R \neq \emptyset,\ L \cup R = \text{all}`, neither contains the other
``#``    independence         all four regions :math:`L \cap R, L \setminus R, R \setminus L,
                              \overline{L \cup R}` non-empty
=======  ===================  =========================================

For two contingent sets these seven cases are exhaustive and exclusive (:func:`relation`).

Generation (Bowman's procedure). Each pair first draws 4 of the 6 variables; each formula of the
pair is then drawn recursively with a *budget* starting at 12: a node is a binary operator with
probability 4/9 (``and`` and ``or`` equally likely) when the budget is at least 2, both children
drawn with half the budget (integer division: 12, 6, 3, 1), and otherwise a variable drawn
uniformly from the 4; every node is then wrapped in ``not`` with probability 1/3. So a formula has
at most 8 variables, 7 binary operators and 15 negations. A pair with a tautology or a
contradiction on either side is redrawn. 500,000 pairs are kept; each goes to the bucket of its
number of operators, ``min(max(ops(left), ops(right)), 12)`` (so bucket 12 holds every longer
pair); each bucket drops its duplicate pairs (the first occurrence stays) and its first 85 % (in
drawing order) are training pairs, the rest test pairs. ON-LSTM trains on buckets 0-6, every 10th
of those pairs (in bucket order) held out for validation (:mod:`shared.tasks.sentence_pair`).

What differs from Bowman's files. The draws come from Python's ``random.Random(SEED)`` (Bowman's
script is unseeded), so the pairs are others from the same distribution; the sizes and the class
balance match his files closely (the test module compares them with the counts below, taken from
the files in the ON-LSTM repository: 135,529 training pairs with <= 6 operators, 249,069 pairs in
all; class balance of those 135,529: ``#`` 54.2 %, ``<`` 10.6 %, ``>`` 10.7 %, ``|`` 10.2 %,
``v`` 10.2 %, ``=`` 2.1 %, ``^`` 1.9 %).

Prepared: ``prepared/propositional_logic/pairs.pt``: the seed, the relations, and per split the
pairs as lines of Bowman's files, ``"<label>\t<left>\t<right>"``, joined by newlines, with their
buckets (a tensor); :func:`load` gives ``{"seed": int, "relations": list[str], "train":
list[str], "train_ops": list[int], "test": list[str], "test_ops": list[int]}``.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from shared.data.checksums import DataError
from shared.data.prepared import load_prepared, prepared_root, save_prepared

NAME = "propositional_logic"
VARIABLES = ("a", "b", "c", "d", "e", "f")
BINARY = ("and", "or")
NEGATION = "not"
#: The labels in the official loader's class order (``'<>=^|#v'``): class k is ``RELATIONS[k]``.
RELATIONS = ("<", ">", "=", "^", "|", "#", "v")
RELATION_NAMES = {
    "<": "entailment",
    ">": "reverse entailment",
    "=": "equivalence",
    "^": "negation",
    "|": "alternation",
    "#": "independence",
    "v": "cover",
}
#: The tokens of the language, in the official loader's order (``num2char``).
TOKENS = ("(", ")", *VARIABLES, "or", "and", "not")

SEED = 2015  #: the seed of the prepared data set
N_PAIRS = 500_000  #: pairs drawn (duplicates are dropped afterwards), as Bowman
VARIABLES_PER_PAIR = 4  #: the variables one pair's formulas draw from
BUDGET = 12  #: the recursion budget of a formula (its depth is at most 4 levels of nodes)
MAX_BUCKET = 12  #: pairs with more operators are counted in this bucket
TRAIN_FRACTION = 0.85  #: of each bucket's distinct pairs, in drawing order

N_WORLDS = 2 ** len(VARIABLES)
ALL_WORLDS = (1 << N_WORLDS) - 1
#: ``WORLDS_OF[i]``: the worlds in which variable ``i`` is true, as a bit set.
WORLDS_OF = tuple(sum(1 << w for w in range(N_WORLDS) if w >> i & 1) for i in range(len(VARIABLES)))

#: A formula: a variable index, ``("not", f)``, or ``(left, "and" | "or", right)``.
Formula = int | tuple


def worlds(formula: Formula) -> int:
    """The worlds (bit set over the 64 truth assignments) in which ``formula`` is true."""
    if isinstance(formula, int):
        return WORLDS_OF[formula]
    if formula[0] == NEGATION:
        return ALL_WORLDS & ~worlds(formula[1])
    left, op, right = formula
    return worlds(left) & worlds(right) if op == "and" else worlds(left) | worlds(right)


def relation(left: int, right: int) -> str:
    """The label of the relation between two formulas' world sets (module docstring's table).

    A ValueError for a tautology or contradiction on either side: no relation is defined there,
    and Bowman's generator redraws such pairs.
    """
    for side, value in (("left", left), ("right", right)):
        if value == 0 or value == ALL_WORLDS:
            kind = "a contradiction" if value == 0 else "a tautology"
            raise ValueError(f"the {side} formula is {kind}: the seven relations need contingent formulas")
    both, only_left, only_right = left & right, left & ~right, right & ~left
    neither = ALL_WORLDS & ~(left | right)
    if not only_left and not only_right:
        return "="
    if not only_left:
        return "<"
    if not only_right:
        return ">"
    if not both:
        return "|" if neither else "^"
    return "#" if neither else "v"


def operators(formula: Formula) -> int:
    """The number of ``and``, ``or`` and ``not`` in ``formula``."""
    if isinstance(formula, int):
        return 0
    if formula[0] == NEGATION:
        return 1 + operators(formula[1])
    return 1 + operators(formula[0]) + operators(formula[2])


def to_text(formula: Formula) -> str:
    """Bowman's bracketing: ``a``, ``( not a )``, ``( a ( and b ) )``; tokens separated by spaces."""
    if isinstance(formula, int):
        return VARIABLES[formula]
    if formula[0] == NEGATION:
        return f"( not {to_text(formula[1])} )"
    left, op, right = formula
    return f"( {to_text(left)} ( {op} {to_text(right)} ) )"


def parse(text: str) -> Formula:
    """The formula of a string in Bowman's bracketing (the inverse of :func:`to_text`)."""
    tokens = text.split()
    formula, end = _parse(tokens, 0, text)
    if end != len(tokens):
        raise ValueError(f"{text!r}: unexpected {' '.join(tokens[end:])!r} after a complete formula")
    return formula


def _parse(tokens: list[str], i: int, text: str) -> tuple[Formula, int]:
    def expect(token: str, at: int) -> int:
        if at >= len(tokens) or tokens[at] != token:
            found = tokens[at] if at < len(tokens) else "the end"
            raise ValueError(f"{text!r}: expected {token!r} at token {at}, found {found!r}")
        return at + 1

    if i >= len(tokens):
        raise ValueError(f"{text!r}: the formula ends too early")
    if tokens[i] in VARIABLES:
        return VARIABLES.index(tokens[i]), i + 1
    i = expect("(", i)
    if i < len(tokens) and tokens[i] == NEGATION:
        inner, i = _parse(tokens, i + 1, text)
        return (NEGATION, inner), expect(")", i)
    left, i = _parse(tokens, i, text)
    i = expect("(", i)
    if i >= len(tokens) or tokens[i] not in BINARY:
        raise ValueError(f"{text!r}: expected 'and' or 'or' at token {i}")
    op = tokens[i]
    right, i = _parse(tokens, i + 1, text)
    return (left, op, right), expect(")", expect(")", i))


def sample_formula(rng: random.Random, variables: list[int], budget: int = BUDGET) -> Formula:
    """One formula by Bowman's recursion (module docstring): a binary node with probability 4/9
    while ``budget >= 2`` (children get ``budget // 2``), else a variable of ``variables``; then
    ``not`` around it with probability 1/3."""
    if budget >= 2 and rng.random() < 4 / 9:
        op = BINARY[rng.randrange(2)]
        node: Formula = (sample_formula(rng, variables, budget // 2), op, sample_formula(rng, variables, budget // 2))
    else:
        node = variables[rng.randrange(len(variables))]
    return (NEGATION, node) if rng.random() < 1 / 3 else node


def generate(
    seed: int = SEED, n_pairs: int = N_PAIRS, train_fraction: float = TRAIN_FRACTION
) -> dict[str, dict[int, list[str]]]:
    """Bowman's data set from ``seed``: ``{"train": {bucket: lines}, "test": {bucket: lines}}``
    for buckets ``0..MAX_BUCKET``, each line ``"<label>\\t<left>\\t<right>"`` (module docstring).
    A pure function of its arguments."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    rng = random.Random(seed)
    buckets: dict[int, dict[str, None]] = {k: {} for k in range(MAX_BUCKET + 1)}  # ordered sets
    drawn = 0
    while drawn < n_pairs:
        variables = rng.sample(range(len(VARIABLES)), VARIABLES_PER_PAIR)
        left, right = sample_formula(rng, variables), sample_formula(rng, variables)
        left_worlds, right_worlds = worlds(left), worlds(right)
        if left_worlds in (0, ALL_WORLDS) or right_worlds in (0, ALL_WORLDS):
            continue
        drawn += 1
        bucket = min(max(operators(left), operators(right)), MAX_BUCKET)
        line = f"{relation(left_worlds, right_worlds)}\t{to_text(left)}\t{to_text(right)}"
        buckets[bucket].setdefault(line, None)
    split: dict[str, dict[int, list[str]]] = {"train": {}, "test": {}}
    for bucket, lines in buckets.items():
        ordered = list(lines)
        cut = int(train_fraction * len(ordered))
        split["train"][bucket], split["test"][bucket] = ordered[:cut], ordered[cut:]
    return split


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Generate the data set (seed :data:`SEED`) into ``out_dir/pairs.pt``. Generated, not read:
    ``raw_dir`` is unused (the DVC stage ``generate@propositional_logic`` has no raw data)."""
    data = generate()
    obj: dict = {"seed": SEED, "relations": list(RELATIONS)}
    for split, buckets in data.items():
        # One string and one tensor per split: half a million short strings unpickle slowly.
        obj[split] = "\n".join(line for bucket in sorted(buckets) for line in buckets[bucket])
        obj[f"{split}_ops"] = torch.tensor([bucket for bucket in sorted(buckets) for _ in buckets[bucket]])
    path = Path(out_dir) / "pairs.pt"
    save_prepared(obj, path)
    return [path]


def load(root: Path | str | None = None) -> dict:
    """The prepared data set (:func:`prepare`'s dict); a missing file names the DVC stage."""
    path = Path(root or prepared_root()) / NAME / "pairs.pt"
    if not path.is_file():
        raise DataError(f"prepared file {path} is missing; run `dvc repro generate@{NAME}`")
    data = load_prepared(NAME, "pairs", root)
    for split in ("train", "test"):
        data[split], data[f"{split}_ops"] = data[split].split("\n"), data[f"{split}_ops"].tolist()
    return data
