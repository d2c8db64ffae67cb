r"""Tree-structured LSTMs (Tai, Socher & Manning, ACL 2015): ``ChildSumTreeLSTM``, ``NaryTreeLSTM``, and
``TreeBatch``, the encoding of a batch of trees they read.

A node :math:`j` with input :math:`x_j` computes its state from its children :math:`C(j)` instead
of from a previous time step. With :math:`\sigma` the logistic function and :math:`\odot` the
element-wise product:

Child-Sum Tree-LSTM (Sec. 3.1, Eqs. (2)-(8)); children unordered, any number of them (the
paper's Dependency Tree-LSTM):

.. math::

    \tilde h_j &= \textstyle\sum_{k \in C(j)} h_k && (2) \\
    i_j &= \sigma(W^{(i)} x_j + U^{(i)} \tilde h_j + b^{(i)}) && (3) \\
    f_{jk} &= \sigma(W^{(f)} x_j + U^{(f)} h_k + b^{(f)}) && (4) \\
    o_j &= \sigma(W^{(o)} x_j + U^{(o)} \tilde h_j + b^{(o)}) && (5) \\
    u_j &= \tanh(W^{(u)} x_j + U^{(u)} \tilde h_j + b^{(u)}) && (6) \\
    c_j &= i_j \odot u_j + \textstyle\sum_{k \in C(j)} f_{jk} \odot c_k && (7) \\
    h_j &= o_j \odot \tanh(c_j) && (8)

N-ary Tree-LSTM (Sec. 3.2, Eqs. (9)-(14)); at most :math:`N` children, each at a position
:math:`\ell \in \{1..N\}` with its own matrices (the paper's Constituency Tree-LSTM with
:math:`N = 2`), and a forget gate per child that sees every child through
:math:`U^{(f)}_{k\ell}` (Eq. (10), including the "off-diagonal" :math:`k \ne \ell`):

.. math::

    i_j &= \sigma(W^{(i)} x_j + \textstyle\sum_{\ell=1}^N U^{(i)}_\ell h_{j\ell} + b^{(i)}) && (9) \\
    f_{jk} &= \sigma(W^{(f)} x_j + \textstyle\sum_{\ell=1}^N U^{(f)}_{k\ell} h_{j\ell} + b^{(f)}) && (10) \\
    o_j &= \sigma(W^{(o)} x_j + \textstyle\sum_{\ell=1}^N U^{(o)}_\ell h_{j\ell} + b^{(o)}) && (11) \\
    u_j &= \tanh(W^{(u)} x_j + \textstyle\sum_{\ell=1}^N U^{(u)}_\ell h_{j\ell} + b^{(u)}) && (12) \\
    c_j &= i_j \odot u_j + \textstyle\sum_{\ell=1}^N f_{j\ell} \odot c_{j\ell} && (13) \\
    h_j &= o_j \odot \tanh(c_j) && (14)

A position without a child (a leaf, a unary node, a right child without a left sibling)
contributes :math:`h_{j\ell} = c_{j\ell} = 0`; a leaf thus has :math:`c_j = i_j \odot u_j`.

Inputs. Every node has a row of ``x``; a node without an input of its own (an internal node of
a constituency tree) gets a zero row, so that :math:`W x_j` vanishes and only the bias and the
children drive it. Deviation of the Lua code (stanfordnlp/treelstm ``BinaryTreeLSTM``), not of
the paper: its leaves use a separate module, :math:`c_j = W^{(c)} x_j + b`,
:math:`h_j = o_j \odot \tanh(c_j)`, and its internal nodes have no input term at all; here every
node follows Eqs. (9)-(14).

Evaluation order. All nodes of one *height* (longest path down to a leaf: leaves 0, a node one
more than its highest child) are computed by one batched tensor operation, heights 0, 1, ...,
so every child is done before its parent and a batch of trees takes (tallest tree's height + 1)
sequential steps, however many trees and nodes it has. Children's states are gathered with index
operations; the child sums of Eqs. (2), (7) with ``index_add``.

Parameters (one bias per gate, as the equations; the Lua code's pairs of ``nn.Linear`` carry two,
one of them redundant), gates stacked :math:`i, o, u, f`:

* ``weight_ih`` ``(4H, H_in)``: :math:`W^{(i)}, W^{(o)}, W^{(u)}, W^{(f)}` (one :math:`W^{(f)}`
  shared by all children, as Eqs. (4), (10));
* ``bias`` ``(4H)``: :math:`b^{(i)}, b^{(o)}, b^{(u)}, b^{(f)}`;
* Child-Sum ``weight_hh`` ``(4H, H)``: :math:`U^{(i)}, U^{(o)}, U^{(u)}` (applied to
  :math:`\tilde h_j`) and :math:`U^{(f)}` (applied to each :math:`h_k`);
* N-ary ``weight_hh`` ``((3 + N) H, N H)``, applied to the concatenated children
  :math:`[h_{j1}; \dots; h_{jN}]` (column block ``m``, i.e. columns ``[mH, (m+1)H)``, reads the
  child at position ``m``, :math:`\ell = m + 1`): rows ``[0, H)``, ``[H, 2H)``, ``[2H, 3H)`` hold
  :math:`U^{(i)}_\ell`, :math:`U^{(o)}_\ell`, :math:`U^{(u)}_\ell`; rows ``[(3+r)H, (4+r)H)`` hold
  the forget gate of the child at position ``r``, column block ``m`` being
  :math:`U^{(f)}_{k\ell}` with :math:`k = r + 1`, :math:`\ell = m + 1`.

Initialisation: torch's recurrent default, every parameter :math:`U(\pm 1/\sqrt{H})` (the paper
does not give one; the Lua code's ``nn.Linear`` uses :math:`1/\sqrt{\text{fan\_in}}`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True, eq=False)
class TreeBatch:
    r"""A batch of trees as one flat list of nodes.

    Attributes:
        parents: ``(num_nodes,)`` long: the index (in this flat list) of each node's parent, ``-1``
            for a root. Nodes may come in any order; several roots make a forest of trees.
        child_index: ``(num_nodes,)`` long, or ``None``: each node's position among its siblings,
            ``0 .. N-1`` (:math:`\ell - 1` of the N-ary equations); ignored for roots and by the
            Child-Sum model. :meth:`from_parent_lists` fills it.
        offsets: ``(num_trees,)`` long, or ``None``: the index of each tree's first node when the
            trees are stored one after another (:meth:`from_parent_lists`); node ``j`` (0-based)
            of tree ``b`` is ``offsets[b] + j``.
        heights: ``(num_nodes,)`` long, computed: 0 for a leaf, else 1 + the largest height of its
            children.

    Invalid parents (out of range, a node its own ancestor) raise ``ValueError`` here.
    """

    parents: Tensor
    child_index: Tensor | None = None
    offsets: Tensor | None = None
    heights: Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parents = self.parents
        if not isinstance(parents, Tensor) or parents.dim() != 1 or parents.dtype != torch.long:
            raise ValueError("TreeBatch: parents must be a 1-D LongTensor (-1 for a root)")
        n = parents.numel()
        if n and (parents.min() < -1 or parents.max() >= n):
            raise ValueError(f"TreeBatch: parents must lie in [-1, {n}) for {n} nodes")
        if torch.any(parents == torch.arange(n, device=parents.device)):
            raise ValueError("TreeBatch: a node cannot be its own parent")
        if self.child_index is not None and (
            self.child_index.shape != parents.shape
            or self.child_index.dtype != torch.long
            or (n and self.child_index.min() < 0)
        ):
            raise ValueError("TreeBatch: child_index must be a LongTensor of non-negative positions, one per node")
        # Frozen dataclass: set the derived field past __setattr__.
        object.__setattr__(self, "heights", _heights(parents))

    @property
    def num_nodes(self) -> int:
        return self.parents.numel()

    @cached_property
    def roots(self) -> Tensor:
        """``(num_trees,)``: the indices of the roots, in increasing order (tree order for
        :meth:`from_parent_lists`)."""
        return torch.nonzero(self.parents < 0).squeeze(1)

    def levels(self) -> list[Tensor]:
        """The processing order: ``levels()[h]`` holds the indices of the nodes of height ``h``
        (increasing), for ``h = 0 .. max height``; every child is in an earlier level than its parent."""
        return list(self._schedule[0])

    @cached_property
    def _schedule(self) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]:
        """``(levels, children, rank)``: the nodes of each height; for each height, the nodes whose
        parent has that height; and each node's position within its level."""
        n, device = self.num_nodes, self.parents.device
        if n == 0:
            return (), (), torch.zeros(0, dtype=torch.long, device=device)
        heights = self.heights
        num_levels = int(heights.max()) + 1
        counts = torch.bincount(heights, minlength=num_levels)
        order = torch.argsort(heights, stable=True)
        level_start = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(order)
        rank[order] = torch.arange(n, device=device) - level_start[heights[order]]
        children = torch.nonzero(self.parents >= 0).squeeze(1)
        parent_height = heights[self.parents[children]]
        children = children[torch.argsort(parent_height, stable=True)]
        child_counts = torch.bincount(parent_height, minlength=num_levels)
        # One host sync for both splits; the sizes must be known on the host anyway.
        sizes = torch.stack((counts, child_counts)).tolist()
        return order.split(sizes[0]), children.split(sizes[1]), rank

    @cached_property
    def _node_schedule(self) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], Tensor]:
        """:attr:`_schedule` with every node a level of its own, in order of height: the
        one-node-at-a-time evaluation of a recursive implementation (children before parents)."""
        n, device = self.num_nodes, self.parents.device
        if n == 0:
            return self._schedule
        order = torch.argsort(self.heights, stable=True)
        step = torch.empty_like(order)
        step[order] = torch.arange(n, device=device)
        children = torch.nonzero(self.parents >= 0).squeeze(1)
        parent_step = step[self.parents[children]]
        children = children[torch.argsort(parent_step, stable=True)]
        counts = torch.bincount(parent_step, minlength=n).tolist()
        return order.split(1), children.split(counts), torch.zeros(n, dtype=torch.long, device=device)

    def to(self, device: torch.device | str) -> TreeBatch:
        """The same trees with their tensors on ``device``."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return TreeBatch(self.parents.to(device), move(self.child_index), move(self.offsets))

    @classmethod
    def from_parent_lists(cls, parent_lists: Sequence[Sequence[int] | str], *, one_based: bool = True) -> TreeBatch:
        """A batch from one parent array per tree, the trees stored one after another.

        Args:
            parent_lists: per tree, the parent of each of its nodes, or a line of a file holding
                them separated by spaces. With ``one_based`` (default) the format of the SICK
                ``*.parents``/``*.cparents`` files (Tai et al.'s preprocessing): entry ``j`` is the
                1-based index of node ``j + 1``'s parent, ``0`` for the root; in ``*.parents``
                node ``j + 1`` is token ``j + 1``; in ``*.cparents`` the tokens come first, then
                the internal nodes. Otherwise 0-based, ``-1`` for the root.
            one_based: the encoding of ``parent_lists``.

        Every tree must have exactly one root. ``child_index`` orders the children of a node by
        the smallest node index in each child's subtree, the order in which the Lua code's
        ``read_tree`` attaches them: left to right for constituency trees, whose leaves are the
        tokens in sentence order.
        """
        root = 0 if one_based else -1
        parents: list[int] = []
        positions: list[int] = []
        offsets: list[int] = []
        for number, entry in enumerate(parent_lists):
            tree = [int(p) for p in entry.split()] if isinstance(entry, str) else [int(p) for p in entry]
            size = len(tree)
            if size == 0:
                raise ValueError(f"TreeBatch.from_parent_lists: tree {number} is empty")
            low, high = (0, size) if one_based else (-1, size - 1)
            if any(not low <= p <= high for p in tree):
                raise ValueError(
                    f"TreeBatch.from_parent_lists: tree {number} has parents outside [{low}, {high}] "
                    f"({'1-based, 0 = root' if one_based else '0-based, -1 = root'}): {tree}"
                )
            if tree.count(root) != 1:
                raise ValueError(f"TreeBatch.from_parent_lists: tree {number} must have exactly one root ({root})")
            local = [p - 1 for p in tree] if one_based else tree
            offset = len(parents)
            offsets.append(offset)
            parents += [p + offset if p >= 0 else -1 for p in local]
            positions += _sibling_positions(local)
        return cls(
            torch.tensor(parents, dtype=torch.long),
            torch.tensor(positions, dtype=torch.long),
            torch.tensor(offsets, dtype=torch.long),
        )


class TreeStates(NamedTuple):
    """The output of a Tree-LSTM: ``h`` and ``c`` of every node, ``(num_nodes, H)`` each, and the
    indices of the roots ``(num_trees,)`` (``h[roots]`` encodes each tree)."""

    h: Tensor
    c: Tensor
    roots: Tensor


class _TreeLSTM(nn.Module):
    """What both Tree-LSTMs share: parameters, input checks and the level-by-level loop."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, factory: dict) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got {type(bias).__name__}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(*self._hh_shape(), **factory))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Every parameter :math:`\sim U(-1/\sqrt{H}, 1/\sqrt{H})`."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, x: Tensor, trees: TreeBatch, node_by_node: bool = False) -> TreeStates:
        """Args: ``x`` ``(num_nodes, H_in)``, one row per node of ``trees`` (zeros for a node
        without input); ``trees`` the :class:`TreeBatch`; ``node_by_node``: compute one node per
        step instead of one height per step (the same equations and result up to rounding, as
        slow as a recursive implementation: a reference and a benchmark baseline). Returns
        :class:`TreeStates`."""
        if x.dim() != 2 or x.size(1) != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected x of shape (num_nodes, {self.input_size}), got {tuple(x.shape)}"
            )
        if x.size(0) != trees.num_nodes:
            raise ValueError(f"{type(self).__name__}: x has {x.size(0)} rows for {trees.num_nodes} nodes")
        if trees.parents.device != x.device:
            trees = trees.to(x.device)
        self._check_trees(trees)
        levels, children, rank = trees._node_schedule if node_by_node else trees._schedule
        size = self.hidden_size
        # W x_j + b of every node at once, rows i, o, u, f.
        projected = F.linear(x, self.weight_ih, self.bias)
        # Filled level by level in place: reading a child's rows (an index op) saves no reference
        # to the buffer for backward, so later levels may overwrite other rows.
        h = x.new_zeros(trees.num_nodes, size)
        c = x.new_zeros(trees.num_nodes, size)
        for nodes, kids in zip(levels, children, strict=True):
            slots = rank[trees.parents[kids]]  # each child's parent's row within this level
            h_nodes, c_nodes = self._level(projected, nodes, kids, slots, h, c, trees)
            h.index_copy_(0, nodes, h_nodes)
            c.index_copy_(0, nodes, c_nodes)
        return TreeStates(h, c, trees.roots)

    def _hh_shape(self) -> tuple[int, int]:
        """The shape of ``weight_hh``."""
        raise NotImplementedError

    def _check_trees(self, trees: TreeBatch) -> None:
        """Raise if the model cannot read ``trees``."""

    def _level(
        self, projected: Tensor, nodes: Tensor, kids: Tensor, slots: Tensor, h: Tensor, c: Tensor, trees: TreeBatch
    ) -> tuple[Tensor, Tensor]:
        """``(h, c)`` of ``nodes`` (``(len(nodes), H)`` each) from their children ``kids`` (row
        ``slots`` of the level is each child's parent) and the states ``h, c`` of earlier levels."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias is not None else ", bias=False")


class ChildSumTreeLSTM(_TreeLSTM):
    r"""The Child-Sum Tree-LSTM (Tai et al. 2015, Sec. 3.1, Eqs. (2)-(8)); for trees whose
    children are unordered or many, e.g. dependency trees.

    Args:
        input_size: features of :math:`x_j`.
        hidden_size: features :math:`H` of :math:`h_j` and :math:`c_j`.
        bias: if ``False``, no ``bias``.
        device, dtype: of the parameters.

    Inputs: x, trees
        - **x**: ``(num_nodes, H_in)``, one row per node of ``trees`` (zeros for a node without input).
        - **trees**: a :class:`TreeBatch` (``child_index`` is not used).

    Outputs: :class:`TreeStates` ``(h, c, roots)``: ``h`` and ``c`` ``(num_nodes, H)``, ``roots``
    ``(num_trees,)``.

    Parameters: ``weight_ih`` ``(4H, H_in)``, ``weight_hh`` ``(4H, H)``, ``bias`` ``(4H)``; gates
    :math:`i, o, u, f` (module docstring).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, {"device": device, "dtype": dtype})

    def _hh_shape(self) -> tuple[int, int]:
        return 4 * self.hidden_size, self.hidden_size

    def _level(
        self, projected: Tensor, nodes: Tensor, kids: Tensor, slots: Tensor, h: Tensor, c: Tensor, trees: TreeBatch
    ) -> tuple[Tensor, Tensor]:
        size = self.hidden_size
        h_kids, c_kids = h[kids], c[kids]
        h_sum = h.new_zeros(len(nodes), size).index_add(0, slots, h_kids)  # Eq. (2)
        gates = projected[nodes, : 3 * size] + F.linear(h_sum, self.weight_hh[: 3 * size])
        in_gate, out_gate, update = gates.chunk(3, 1)  # Eqs. (3), (5), (6) before activation
        # Eq. (4): W^(f) x_j + b^(f) of each child's parent, U^(f) h_k of the child itself.
        forget = torch.sigmoid(
            projected[trees.parents[kids], 3 * size :] + F.linear(h_kids, self.weight_hh[3 * size :])
        )
        kept = h.new_zeros(len(nodes), size).index_add(0, slots, forget * c_kids)
        c_nodes = torch.sigmoid(in_gate) * torch.tanh(update) + kept  # Eq. (7)
        return torch.sigmoid(out_gate) * torch.tanh(c_nodes), c_nodes  # Eq. (8)


class NaryTreeLSTM(_TreeLSTM):
    r"""The N-ary Tree-LSTM (Tai et al. 2015, Sec. 3.2, Eqs. (9)-(14)); for trees with at most
    ``n_ary`` ordered children, e.g. binarized constituency trees (``n_ary=2``, the paper's
    Constituency Tree-LSTM).

    Args:
        input_size: features of :math:`x_j`.
        hidden_size: features :math:`H` of :math:`h_j` and :math:`c_j`.
        n_ary: :math:`N`, the most children a node may have.
        bias: if ``False``, no ``bias``.
        device, dtype: of the parameters.

    Inputs: x, trees
        - **x**: ``(num_nodes, H_in)``, one row per node (zeros for a node without input, e.g. an
          internal node of a constituency tree).
        - **trees**: a :class:`TreeBatch` with ``child_index`` (position ``0 .. N-1`` of each
          non-root node among its siblings; at most one child per position).

    Outputs: :class:`TreeStates` ``(h, c, roots)``: ``h`` and ``c`` ``(num_nodes, H)``, ``roots``
    ``(num_trees,)``.

    Parameters: ``weight_ih`` ``(4H, H_in)``, ``weight_hh`` ``((3 + N) H, N H)``, ``bias`` ``(4H)``;
    layout in the module docstring.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        n_ary: int = 2,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(n_ary, int) or isinstance(n_ary, bool) or n_ary <= 0:
            raise ValueError(f"n_ary must be a positive int, got {n_ary!r}")
        self.n_ary = n_ary  # before the parameters, which _hh_shape sizes by it
        super().__init__(input_size, hidden_size, bias, {"device": device, "dtype": dtype})

    def _hh_shape(self) -> tuple[int, int]:
        return (3 + self.n_ary) * self.hidden_size, self.n_ary * self.hidden_size

    def _check_trees(self, trees: TreeBatch) -> None:
        if trees.child_index is None:
            raise ValueError("NaryTreeLSTM needs TreeBatch.child_index (each child's position among its siblings)")
        children = torch.nonzero(trees.parents >= 0).squeeze(1)
        position = trees.child_index[children]
        if children.numel() and position.max() >= self.n_ary:
            raise ValueError(f"NaryTreeLSTM: child_index must be < n_ary = {self.n_ary}, got {int(position.max())}")
        slot = trees.parents[children] * self.n_ary + position
        if torch.unique(slot).numel() != slot.numel():
            raise ValueError("NaryTreeLSTM: two children of one node share a child_index")

    def _level(
        self, projected: Tensor, nodes: Tensor, kids: Tensor, slots: Tensor, h: Tensor, c: Tensor, trees: TreeBatch
    ) -> tuple[Tensor, Tensor]:
        size, n_ary = self.hidden_size, self.n_ary
        # Children's states at their positions, zeros where a node has no child: (nodes, N, H).
        where = slots * n_ary + trees.child_index[kids]
        h_children = h.new_zeros(len(nodes) * n_ary, size).index_copy(0, where, h[kids])
        c_children = c.new_zeros(len(nodes) * n_ary, size).index_copy(0, where, c[kids])
        recurrent = F.linear(h_children.view(len(nodes), n_ary * size), self.weight_hh)
        gates = projected[nodes, : 3 * size] + recurrent[:, : 3 * size]
        in_gate, out_gate, update = gates.chunk(3, 1)  # Eqs. (9), (11), (12) before activation
        # Eq. (10): f_jk for k = 1..N, one shared W^(f) x_j + b^(f), U^(f)_{kl} over all children l.
        forget_pre = projected[nodes, 3 * size :].unsqueeze(1) + recurrent[:, 3 * size :].view(len(nodes), n_ary, size)
        kept = (torch.sigmoid(forget_pre) * c_children.view(len(nodes), n_ary, size)).sum(1)
        c_nodes = torch.sigmoid(in_gate) * torch.tanh(update) + kept  # Eq. (13)
        return torch.sigmoid(out_gate) * torch.tanh(c_nodes), c_nodes  # Eq. (14)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", n_ary={self.n_ary}"


def _heights(parents: Tensor) -> Tensor:
    """Each node's height (0 for a leaf), by relaxing ``height[parent] >= height[child] + 1``;
    at most (tallest height + 1) passes, and a cycle never settles."""
    n = parents.numel()
    heights = torch.zeros(n, dtype=torch.long, device=parents.device)
    children = torch.nonzero(parents >= 0).squeeze(1)
    targets = parents[children]
    for _ in range(n + 1):
        updated = heights.scatter_reduce(0, targets, heights[children] + 1, reduce="amax")
        if torch.equal(updated, heights):
            return heights
        heights = updated
    raise ValueError("TreeBatch: the parents contain a cycle (a node is its own ancestor)")


def _sibling_positions(parents: list[int]) -> list[int]:
    """For one tree (0-based parents, -1 = root): each node's rank among its siblings, ordered by
    the smallest node index in their subtrees (0 for the root)."""
    n = len(parents)
    first = [n] * n  # smallest node index in each subtree
    for node in range(n):
        # Every ancestor not yet reached by a smaller index gets this one; above the first
        # ancestor already reached, all are (they were reached from a smaller index too).
        ancestor = node
        while ancestor >= 0 and first[ancestor] > node:
            first[ancestor] = node
            ancestor = parents[ancestor]
    siblings: dict[int, list[int]] = {}
    for node, parent in enumerate(parents):
        siblings.setdefault(parent, []).append(node)
    positions = [0] * n
    for parent, nodes in siblings.items():
        if parent >= 0:
            for rank, node in enumerate(sorted(nodes, key=first.__getitem__)):
                positions[node] = rank
    return positions
