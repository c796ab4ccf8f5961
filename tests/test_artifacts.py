import pandas as pd
import pytest

from foldwise import artifacts


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.parquet"
    artifacts.write_table(pd.DataFrame({"a": [1]}), target)
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert artifacts.read_table(target).a.tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_temporaries_of_a_killed_writer_are_cleaned_by_the_next_write(tmp_path):
    target = tmp_path / "last.pt"
    (tmp_path / ".last.pt.abc123.part").write_bytes(b"left by SIGKILL")
    artifacts.write_json({"epoch": 3}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
