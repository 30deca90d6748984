from __future__ import annotations

import pytest

from storage_operator.__main__ import build_parser


def test_lab_actions() -> None:
    parser = build_parser()
    assert parser.parse_args(["lab", "up"]).action == "up"
    assert parser.parse_args(["lab", "down", "--purge"]).purge is True


def test_unknown_action_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["lab", "explode"])
    assert info.value.code == 2
    assert "invalid choice: 'explode'" in capsys.readouterr().err
