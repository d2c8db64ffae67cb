"""Tree-LSTMs (Tai et al. 2015): the level-by-level batched evaluation (and the node-by-node
one) against a plain recursive evaluation of each tree from the paper's equations (Child-Sum
Eqs. (2)-(8), N-ary Eqs. (9)-(14)), for random trees of many shapes, single nodes, any node
order; N-ary children at any position; gradcheck; the TreeBatch encoding (SICK parents format,
levels, validation). Float64."""

from __future__ import annotations

import random

import pytest
import torch
from torch.func import functional_call

from shared.models.cells.tree_lstm import ChildSumTreeLSTM, NaryTreeLSTM, TreeBatch

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def random_tree(size: int, rng: random.Random, max_children: int | None = None) -> list[int]:
    """0-based parents (-1 = root) of a random tree, nodes in random order."""
    parents = [-1]
    counts = [0]
    for node in range(1, size):
        open_nodes = [j for j in range(node) if max_children is None or counts[j] < max_children]
        parent = rng.choice(open_nodes)
        parents.append(parent)
        counts.append(0)
        counts[parent] += 1
    label = list(range(size))
    rng.shuffle(label)
    shuffled = [0] * size
    for node, parent in enumerate(parents):
        shuffled[label[node]] = -1 if parent < 0 else label[parent]
    return shuffled


def shapes(max_children: int | None, rng: random.Random) -> list[list[int]]:
    """A single node, a chain, a star (within max_children), and random trees."""
    star = min(4, max_children or 4)
    return [
        [-1],
        [-1, 0, 1, 2, 3],
        [-1] + [0] * star,
        *(random_tree(size, rng, max_children) for size in (2, 3, 7, 12)),
    ]


def children_of(parents: list[int]) -> dict[int, list[int]]:
    return {j: [k for k, p in enumerate(parents) if p == j] for j in range(len(parents))}


def child_sum_reference(model: ChildSumTreeLSTM, x: torch.Tensor, parents: list[int]):
    """Recursive Child-Sum Tree-LSTM over one tree, Eqs. (2)-(8) as written in the paper."""
    size = model.hidden_size
    w_i, w_o, w_u, w_f = model.weight_ih.split(size)
    u_i, u_o, u_u, u_f = model.weight_hh.split(size)
    b_i, b_o, b_u, b_f = model.bias.split(size)
    children = children_of(parents)
    h, c = [None] * len(parents), [None] * len(parents)

    def node(j: int) -> None:
        for k in children[j]:
            node(k)
        h_tilde = sum((h[k] for k in children[j]), torch.zeros(size, **F64))  # Eq. (2)
        i = torch.sigmoid(w_i @ x[j] + u_i @ h_tilde + b_i)  # Eq. (3)
        o = torch.sigmoid(w_o @ x[j] + u_o @ h_tilde + b_o)  # Eq. (5)
        u = torch.tanh(w_u @ x[j] + u_u @ h_tilde + b_u)  # Eq. (6)
        c[j] = i * u
        for k in children[j]:
            f_jk = torch.sigmoid(w_f @ x[j] + u_f @ h[k] + b_f)  # Eq. (4)
            c[j] = c[j] + f_jk * c[k]  # Eq. (7)
        h[j] = o * torch.tanh(c[j])  # Eq. (8)

    node(parents.index(-1))
    return torch.stack(h), torch.stack(c)


def nary_reference(model: NaryTreeLSTM, x: torch.Tensor, parents: list[int], positions: list[int]):
    """Recursive N-ary Tree-LSTM over one tree, Eqs. (9)-(14), with the U blocks picked out by hand."""
    size, n_ary = model.hidden_size, model.n_ary
    w_i, w_o, w_u, w_f = model.weight_ih.split(size)
    b_i, b_o, b_u, b_f = model.bias.split(size)

    def block(gate_row: int, child: int) -> torch.Tensor:
        return model.weight_hh[gate_row * size : (gate_row + 1) * size, child * size : (child + 1) * size]

    children = children_of(parents)
    h, c = [None] * len(parents), [None] * len(parents)

    def node(j: int) -> None:
        for k in children[j]:
            node(k)
        at = {positions[k]: k for k in children[j]}
        h_child = [h[at[ell]] if ell in at else torch.zeros(size, **F64) for ell in range(n_ary)]
        c_child = [c[at[ell]] if ell in at else torch.zeros(size, **F64) for ell in range(n_ary)]
        i = torch.sigmoid(w_i @ x[j] + sum(block(0, ell) @ h_child[ell] for ell in range(n_ary)) + b_i)  # Eq. (9)
        o = torch.sigmoid(w_o @ x[j] + sum(block(1, ell) @ h_child[ell] for ell in range(n_ary)) + b_o)  # Eq. (11)
        u = torch.tanh(w_u @ x[j] + sum(block(2, ell) @ h_child[ell] for ell in range(n_ary)) + b_u)  # Eq. (12)
        c[j] = i * u
        for k in range(n_ary):
            f_jk = torch.sigmoid(
                w_f @ x[j] + sum(block(3 + k, ell) @ h_child[ell] for ell in range(n_ary)) + b_f
            )  # Eq. (10)
            c[j] = c[j] + f_jk * c_child[k]  # Eq. (13)
        h[j] = o * torch.tanh(c[j])  # Eq. (14)

    node(parents.index(-1))
    return torch.stack(h), torch.stack(c)


def random_positions(parents: list[int], n_ary: int, rng: random.Random) -> list[int]:
    """Distinct random positions in 0..n_ary-1 for the children of every node (gaps allowed)."""
    positions = [0] * len(parents)
    for kids in children_of(parents).values():
        for k, position in zip(kids, rng.sample(range(n_ary), len(kids)), strict=False):
            positions[k] = position
    return positions


def flat_batch(trees: list[list[int]], positions: list[list[int]] | None, permutation: torch.Tensor | None):
    """One TreeBatch from 0-based trees, optionally with the flat node order permuted: flat node
    ``permutation[m]`` goes to row ``m``. Returns the batch and each tree's rows."""
    parents, child_index, rows, offset = [], [], [], 0
    for number, tree in enumerate(trees):
        parents += [p + offset if p >= 0 else -1 for p in tree]
        child_index += positions[number] if positions else [0] * len(tree)
        rows.append(torch.arange(offset, offset + len(tree)))
        offset += len(tree)
    parents, child_index = torch.tensor(parents), torch.tensor(child_index)
    if permutation is not None:
        inverse = torch.argsort(permutation)
        parents = torch.where(parents[permutation] >= 0, inverse[parents[permutation].clamp(min=0)], -1)
        child_index = child_index[permutation]
        rows = [inverse[r] for r in rows]
    return TreeBatch(parents, child_index), rows


@pytest.mark.parametrize("node_by_node", [False, True], ids=["by_height", "node_by_node"])
@pytest.mark.parametrize("permute", [False, True], ids=["stored_in_order", "nodes_shuffled"])
def test_child_sum_batched_equals_recursive(permute: bool, node_by_node: bool) -> None:
    rng = random.Random(0)
    model = ChildSumTreeLSTM(3, 4, **F64)
    trees = shapes(None, rng)
    num_nodes = sum(map(len, trees))
    batch, rows = flat_batch(trees, None, torch.randperm(num_nodes) if permute else None)
    x = torch.randn(num_nodes, 3, **F64)
    h, c, roots = model(x, batch, node_by_node=node_by_node)
    assert h.shape == c.shape == (num_nodes, 4)
    assert sorted(roots.tolist()) == sorted(int(r[t.index(-1)]) for r, t in zip(rows, trees, strict=True))
    for tree, r in zip(trees, rows, strict=True):
        h_ref, c_ref = child_sum_reference(model, x[r], tree)
        torch.testing.assert_close(h[r], h_ref, **TOL)
        torch.testing.assert_close(c[r], c_ref, **TOL)


@pytest.mark.parametrize("n_ary", [1, 2, 3])
@pytest.mark.parametrize("node_by_node", [False, True], ids=["by_height", "node_by_node"])
@pytest.mark.parametrize("permute", [False, True], ids=["stored_in_order", "nodes_shuffled"])
def test_nary_batched_equals_recursive(n_ary: int, permute: bool, node_by_node: bool) -> None:
    rng = random.Random(n_ary)
    model = NaryTreeLSTM(3, 4, n_ary=n_ary, **F64)
    trees = shapes(n_ary, rng)
    positions = [random_positions(tree, n_ary, rng) for tree in trees]
    num_nodes = sum(map(len, trees))
    batch, rows = flat_batch(trees, positions, torch.randperm(num_nodes) if permute else None)
    x = torch.randn(num_nodes, 3, **F64)
    x[batch.heights > 0] = 0  # internal nodes without input, as in a constituency tree
    h, c, _ = model(x, batch, node_by_node=node_by_node)
    for tree, pos, r in zip(trees, positions, rows, strict=True):
        h_ref, c_ref = nary_reference(model, x[r], tree, pos)
        torch.testing.assert_close(h[r], h_ref, **TOL)
        torch.testing.assert_close(c[r], c_ref, **TOL)


def test_nary_child_positions_matter() -> None:
    """A node with one child, at position 0 or 1: Eq. (9)-(12) use U_1 or U_2, so the results
    differ, and each equals the reference with the gap filled by zeros."""
    model = NaryTreeLSTM(2, 3, n_ary=2, **F64)
    x = torch.randn(3, 2, **F64)
    parents = torch.tensor([-1, 0, 1])
    results = []
    for position in (0, 1):
        batch = TreeBatch(parents, torch.tensor([0, position, 0]))
        h, c, _ = model(x, batch)
        h_ref, c_ref = nary_reference(model, x, parents.tolist(), [0, position, 0])
        torch.testing.assert_close(h, h_ref, **TOL)
        torch.testing.assert_close(c, c_ref, **TOL)
        results.append(h[0])
    assert not torch.allclose(results[0], results[1])


@pytest.mark.parametrize(
    "make",
    [lambda: ChildSumTreeLSTM(2, 2, **F64), lambda: NaryTreeLSTM(2, 2, n_ary=2, **F64)],
    ids=["child_sum", "nary"],
)
def test_gradcheck(make) -> None:
    model = make()
    batch = TreeBatch.from_parent_lists([[2, 0, 2], [0]])  # a root with two leaves; a single node
    names = [name for name, _ in model.named_parameters()]

    def run(x, *params):
        h, c, _ = functional_call(model, dict(zip(names, params, strict=True)), (x, batch))
        return h, c

    inputs = [torch.randn(4, 2, **F64)] + [p.detach().clone() for p in model.parameters()]
    assert torch.autograd.gradcheck(run, [t.requires_grad_() for t in inputs])


def test_from_parent_lists_reads_the_sick_format() -> None:
    dependency = "3 3 5 5 11 5 6 9 6 11 0 11"  # data/sick/dev/a.parents, line 1 (12 tokens)
    constituency = "9 9 11 12 13 14 15 15 10 0 10 11 12 13 14"  # dev/a.cparents, line 3 (8 tokens)
    batch = TreeBatch.from_parent_lists([dependency, constituency])
    assert batch.offsets.tolist() == [0, 12]
    assert batch.parents[:12].tolist() == [2, 2, 4, 4, 10, 4, 5, 8, 5, 10, -1, 10]
    assert batch.parents[12:].tolist() == [p + 12 for p in [8, 8, 10, 11, 12, 13, 14, 14, 9]] + [-1] + [
        p + 12 for p in [9, 10, 11, 12, 13]
    ]
    assert batch.roots.tolist() == [10, 21]
    # Node 4 ("playing") has children 2, 3, 5, ordered by the first token of their subtrees.
    assert batch.child_index[[2, 3, 5]].tolist() == [0, 1, 2]
    # Constituency: "(Four children) (are (doing (backbends (in (the gym)))))": every internal
    # node binary, left child = the one starting further left.
    local_child_index = batch.child_index[12:].tolist()
    assert [local_child_index[k] for k in (8, 10)] == [0, 1]  # root 9: (Four children), (are ...)
    assert [local_child_index[k] for k in (0, 1)] == [0, 1]  # Four, children
    assert [local_child_index[k] for k in (2, 11)] == [0, 1]  # are, (doing ...)
    assert [local_child_index[k] for k in (5, 14)] == [0, 1]  # in, (the gym)
    assert [local_child_index[k] for k in (6, 7)] == [0, 1]  # the, gym
    assert batch.heights[12:20].tolist() == [0] * 8  # tokens are the leaves
    assert int(batch.heights[21]) == 6
    # Same trees, 0-based input.
    zero_based = TreeBatch.from_parent_lists([[2, 2, 4, 4, 10, 4, 5, 8, 5, 10, -1, 10]], one_based=False)
    assert torch.equal(zero_based.parents, batch.parents[:12])
    assert torch.equal(zero_based.child_index, batch.child_index[:12])
    NaryTreeLSTM(2, 2, n_ary=2)(torch.zeros(batch.num_nodes - 12, 2), TreeBatch.from_parent_lists([constituency]))


def test_from_parent_lists_orders_a_late_internal_node_first() -> None:
    # ((a b) c): leaves 1-3, (a b) = 4, root 5. Node 4 has a larger index than leaf 3 but starts left of it.
    batch = TreeBatch.from_parent_lists(["4 4 5 5 0"])
    assert batch.child_index.tolist() == [0, 1, 1, 0, 0]


def test_levels_are_a_valid_processing_order() -> None:
    trees = shapes(None, random.Random(3))
    batch, _ = flat_batch(trees, None, torch.randperm(sum(map(len, trees))))
    levels = batch.levels()
    level_of = torch.empty(batch.num_nodes, dtype=torch.long)
    for height, nodes in enumerate(levels):
        level_of[nodes] = height
    assert sorted(torch.cat(levels).tolist()) == list(range(batch.num_nodes))
    has_parent = batch.parents >= 0
    assert torch.all(level_of[has_parent] < level_of[batch.parents[has_parent]])
    leaves = torch.ones(batch.num_nodes, dtype=torch.bool)
    leaves[batch.parents[has_parent]] = False
    assert torch.equal(levels[0], torch.nonzero(leaves).squeeze(1))
    assert len(levels) == 5  # the chain of 5 nodes is the tallest tree


def test_invalid_trees_raise() -> None:
    with pytest.raises(ValueError, match="outside"):
        TreeBatch.from_parent_lists(["2 -1 2"])  # -1 does not occur in the 1-based format
    with pytest.raises(ValueError, match="exactly one root"):
        TreeBatch.from_parent_lists(["0 0 1"])
    with pytest.raises(ValueError, match="cycle"):
        TreeBatch(torch.tensor([-1, 2, 1]))
    with pytest.raises(ValueError, match="own parent"):
        TreeBatch(torch.tensor([-1, 1]))
    with pytest.raises(ValueError, match=r"\[-1, 2\)"):
        TreeBatch(torch.tensor([-1, 5]))
    model = NaryTreeLSTM(2, 2, n_ary=2)
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="needs TreeBatch.child_index"):
        model(x, TreeBatch(torch.tensor([-1, 0, 0])))
    with pytest.raises(ValueError, match="share a child_index"):
        model(x, TreeBatch(torch.tensor([-1, 0, 0]), torch.tensor([0, 1, 1])))
    with pytest.raises(ValueError, match="< n_ary = 2"):
        model(x, TreeBatch(torch.tensor([-1, 0, 0]), torch.tensor([0, 0, 2])))
    with pytest.raises(ValueError, match="rows for 3 nodes"):
        ChildSumTreeLSTM(2, 2)(torch.zeros(4, 2), TreeBatch(torch.tensor([-1, 0, 0])))


def test_parameters() -> None:
    child_sum, nary = ChildSumTreeLSTM(3, 4), NaryTreeLSTM(3, 4, n_ary=3)
    assert {n: tuple(p.shape) for n, p in child_sum.named_parameters()} == {
        "weight_ih": (16, 3),
        "weight_hh": (16, 4),
        "bias": (16,),
    }
    assert {n: tuple(p.shape) for n, p in nary.named_parameters()} == {
        "weight_ih": (16, 3),
        "weight_hh": (24, 12),
        "bias": (16,),
    }
    assert "n_ary=3" in repr(nary)
    assert [n for n, _ in ChildSumTreeLSTM(3, 4, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]
