"""Raw-data verification against SOURCE.md, prepared-file errors and the prepare CLI's errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from shared.data import prepare
from shared.data.checksums import DataError, expected_sha256, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

FILES = {"a.bin": b"first file\n", "b.txt.gz": bytes(range(256)) * 4}


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """A dataset folder like data/<dataset>/: the files plus a SOURCE.md with their sha256."""
    rows = "\n".join(
        f"| {name} | {len(data)} | {hashlib.sha256(data).hexdigest()} | (same) | (same) | x |"
        for name, data in FILES.items()
    )
    (tmp_path / "SOURCE.md").write_text(
        "# A dataset\n\n## Source\nSomewhere.\n\n## Files (not compressed)\n"
        "| file | bytes | sha256 | uncompressed bytes | uncompressed sha256 | git blob sha1 |\n"
        f"|---|---|---|---|---|---|\n{rows}\n\n## License / terms\n| not | a | table |\n"
    )
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_expected_sha256_reads_the_sha256_column(dataset_dir: Path) -> None:
    sums = expected_sha256(dataset_dir)
    assert sums == {name: hashlib.sha256(data).hexdigest() for name, data in FILES.items()}


def test_verify_passes_on_intact_files(dataset_dir: Path) -> None:
    verify_dataset(dataset_dir)
    verify_dataset(dataset_dir, ["b.txt.gz"])


def test_flipped_byte_names_the_file_and_the_fix(dataset_dir: Path) -> None:
    path = dataset_dir / "b.txt.gz"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        verify_dataset(dataset_dir)
    message = str(err.value)
    assert "b.txt.gz" in message and "a.bin" not in message
    assert hashlib.sha256(FILES["b.txt.gz"]).hexdigest() in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    assert "`make restore-data`" in message and "`git checkout data.dvc && dvc checkout data.dvc`" in message


def test_missing_file_says_dvc_pull(dataset_dir: Path) -> None:
    (dataset_dir / "a.bin").unlink()
    with pytest.raises(DataError, match=r"a\.bin is missing.*`dvc pull`"):
        verify_dataset(dataset_dir)


def test_missing_source_md_says_dvc_pull(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"SOURCE\.md not found.*`dvc pull`"):
        verify_dataset(tmp_path / "never_pulled")


def test_file_absent_from_the_table_is_an_error(dataset_dir: Path) -> None:
    with pytest.raises(DataError, match=r"no sha256 recorded for 'c\.bin'"):
        verify_dataset(dataset_dir, ["c.bin"])


def test_missing_prepared_file_names_the_dvc_stage(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"`dvc repro prepare@mnist`"):
        load_prepared("mnist", "mnist", root=tmp_path)


def test_prepared_file_round_trip(tmp_path: Path) -> None:
    obj = {"vocab": ["a", "<eos>"], "train": torch.arange(5), "n": 3, "rolls": [torch.ones(2, 2)]}
    save_prepared(obj, tmp_path / "toy" / "toy.pt")
    loaded = load_prepared("toy", "toy", root=tmp_path)
    assert loaded["vocab"] == obj["vocab"] and loaded["n"] == 3
    assert torch.equal(loaded["train"], obj["train"])
    assert torch.equal(loaded["rolls"][0], obj["rolls"][0])
    assert [p.name for p in (tmp_path / "toy").iterdir()] == ["toy.pt"]  # no temp file left


def test_save_prepared_refuses_what_weights_only_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"rolls\[1\].*float"):
        save_prepared({"rolls": [torch.ones(1), 0.5]}, tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()


def test_cli_reports_data_error_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = prepare.main(["mnist", "--raw", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and "`dvc pull`" in err and "Traceback" not in err


def test_cli_unknown_dataset_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(["imagenet"])
    assert exit_info.value.code == 2
    assert "polyphonic_music" in capsys.readouterr().err
