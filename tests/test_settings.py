"""Typed settings: one schema from RunConfig's fields checks --set text, options, papermill values and RunConfig."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from moede.book.runner import notebook_parameters
from moede.cli import main
from moede.config import RunConfig, settings
from moede.errors import SettingError
from moede.settings import parse_assignments, schema_of


def test_schema_follows_the_dataclass_fields() -> None:
    schema = settings()
    assert list(schema) == [f for f in RunConfig.__dataclass_fields__]
    assert schema["sfer_epochs"].kind is int and schema["learning_rate"].kind is float
    assert schema["augment"].kind is bool and schema["max_frames"].optional
    assert schema["affectnet_root"].kind is Path and schema["optimizer"].choices == ("adam", "nadam")


@pytest.mark.parametrize("text,value", [("true", True), ("Yes", True), ("1", True), ("no", False), ("0", False),
                                        ("FALSE", False)])
def test_booleans_parse_words(text: str, value: bool) -> None:
    assert parse_assignments([f"augment={text}"], settings()) == {"augment": value}


@pytest.mark.parametrize("pair,named", [
    ("sfer_epochs=abc", "sfer_epochs must be an integer >= 1, not 'abc'"),
    ("sfer_epochs=2.5", "not '2.5'"),
    ("partitions=-3", "partitions must be an integer >= 1, not '-3'"),
    ("learning_rate=nan", "learning_rate must be a number > 0, not 'nan'"),
    ("learning_rate=0", "not '0'"),
    ("augment=maybe", "augment must be true or false"),
    ("max_frames=0", "max_frames must be an integer >= 1 (or none)"),
    ("msp_improv_partitions=7", "from 1 to 6"),
    ("optimizer=sgd", "optimizer must be one of adam, nadam"),
    ("device=gpu", "device must be auto, cpu, mps, cuda or cuda:N, not 'gpu'"),
    ("seed=-1", "seed must be an integer from 0 to 4294967295"),
    ("no_such=1", "unknown setting 'no_such'"),
    ("sfer_epochs", "expected KEY=VALUE"),
])
def test_bad_values_name_the_setting_the_value_and_what_is_allowed(pair: str, named: str) -> None:
    with pytest.raises(SettingError, match=re.escape(named)):
        parse_assignments([pair], settings())


def test_runconfig_checks_papermill_values_and_converts_them() -> None:
    cfg = RunConfig.for_profile("demo", sfer_epochs=np.int64(3), learning_rate=1, affectnet_root="x",
                                augment="no")
    assert cfg.sfer_epochs == 3 and type(cfg.sfer_epochs) is int and cfg.learning_rate == 1.0
    assert cfg.affectnet_root == Path("x") and cfg.augment is False
    for bad in ({"sfer_epochs": "abc"}, {"sfer_epochs": 2.5}, {"augment": "no way"}, {"batch_size": 0},
                {"aux_weight": float("nan")}, {"no_such": 1}):
        with pytest.raises(SettingError):
            RunConfig.for_profile("demo", **bad)
    with pytest.raises(SettingError, match="profile must be one of demo, full"):
        RunConfig.for_profile("fast")


def test_parameters_of_a_checked_config_rebuild_it() -> None:
    cfg = RunConfig.for_profile("demo", sfer_epochs=2, augment=True, trainable_from=0, max_frames=None)
    again = RunConfig.from_params(notebook_parameters(cfg))
    assert again.as_dict() | {"run_dir": ""} == cfg.as_dict() | {"run_dir": ""}


@pytest.mark.parametrize("argv,named", [
    (["--set", "sfer_epochs=abc"], "sfer_epochs must be an integer >= 1, not 'abc'"),
    (["--set", "device=cpu", "--device", "cuda"], "device is given twice"),
    (["--set", "augment=true"], "augment=false or trainable_from=0"),
])
def test_book_rejects_bad_settings_before_any_work(tmp_path: Path, argv: list[str], named: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["book", "--run-dir", str(tmp_path / "run"), "--build-dir", str(tmp_path / "b"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and named in err and err.startswith("moede book: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "b").exists()


def test_keys_with_their_own_option_work_through_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import moede.book.runner as runner

    seen: list[RunConfig] = []
    monkeypatch.setattr(runner, "run_notebooks", lambda cfg, **_: seen.append(cfg) or [])
    monkeypatch.chdir(tmp_path)
    assert main(["book", "--no-site", "--set", "device=cpu", "--set", "seed=7", "--set", "run_dir=r",
                 "--set", "profile=full", "--set", "augment=no", "--set", "cache_dir=c", "--set",
                 "allow_demo_data=yes"]) == 0
    cfg = seen[0]
    assert (cfg.device, cfg.seed, cfg.profile, cfg.augment) == ("cpu", 7, "full", False)
    assert cfg.run_dir == tmp_path / "r" and cfg.cache_dir == tmp_path / "c"


def test_a_literal_field_gets_its_choices() -> None:
    @dataclass
    class Options:
        backbone: Literal["mobilenet_v2", "resnet18"] = "mobilenet_v2"
        frames: int | None = None

    schema = schema_of(Options, {"frames": {"minimum": 1}})
    assert schema["backbone"].parse("resnet18") == "resnet18"
    with pytest.raises(SettingError, match="backbone must be one of mobilenet_v2, resnet18, not 'vgg'"):
        schema["backbone"].parse("vgg")
    assert schema["frames"].parse("none") is None and schema["frames"].parse("3") == 3


@pytest.mark.parametrize("overrides, message", [
    (dict(backbone="mobilenet_v3_small"), "no shipped ImageNet weights"),
    (dict(backbone="mobilenet_v3_small", init="random"),
     "would freeze every block of mobilenet_v3_small, which has 13"),
    (dict(trainable_from=19), "would freeze every block of mobilenet_v2, which has 19"),
])
def test_backbone_settings_are_checked_against_the_backbone(overrides: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        RunConfig.for_profile("demo", **overrides)
    assert RunConfig.for_profile("demo", backbone="mobilenet_v3_small", init="random", trainable_from=12)
