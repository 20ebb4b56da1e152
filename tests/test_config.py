"""Run configuration: validation, TOML, --set overrides, presets."""
import dataclasses
from pathlib import Path

import pytest

from attndyn.numerics.config.schema import (CorpusSpec, ModelConfig, RunConfig, TrainConfig,
                                            default_trainable)
from attndyn.numerics.config.load import apply_overrides, load_config, parse_value, valid_keys
from attndyn.numerics.data.corpus import SyntheticConfig
from attndyn.numerics.config.presets import ABLATION_EMB_STD, preset_config, preset_names
from attndyn.proofs.errors import UsageError


# --------------------------------------------------------------------------- presets

def test_every_preset_constructs_and_round_trips():
    names = preset_names()
    expected = {"paper-fc", "paper-tc", "paper-tl", "sst2-fc", "sst2-tc", "sst5-fc", "sst5-tc"}
    expected |= {f"ablation-{c}-{v}" for c in ("fc", "tc") for v in ("both", "kf", "ef")}
    expected |= {f"{w}-{c}-small" for w in ("sst2", "sst5") for c in ("fc", "tc")} | {"sst2-fc-pad"}
    assert set(names) == expected
    for name in names:
        cfg = preset_config(name)
        assert RunConfig.from_dict(cfg.to_dict()) == cfg, name


def test_presets_follow_the_paper():
    fc, tc, tl = (preset_config(f"paper-{c}") for c in ("fc", "tc", "tl"))
    assert fc.corpus.synthetic == SyntheticConfig()  # 4 topics, 2 words each, 5000 others, m=20
    assert (fc.train.lr, fc.train.epochs, fc.model.d_e, fc.model.d_k) == (0.1, 5000, 10, 10)
    assert (fc.model.emb_init_std, fc.model.key_init_std, fc.model.query_std) == (1e-6, 0.0, 0.3)
    assert fc.train.trainable == {"embeddings", "keys"}
    assert tc.train.trainable == tl.train.trainable == {"embeddings", "keys", "classifier"}
    kf, ef = preset_config("ablation-tc-kf"), preset_config("ablation-fc-ef")
    assert kf.model.emb_init_std == ef.model.emb_init_std == ABLATION_EMB_STD == 0.1
    assert kf.train.trainable == {"embeddings", "classifier"}
    assert ef.train.trainable == {"keys"}
    assert preset_config("sst5-tc").corpus.kind == "sst5"


def test_unknown_preset_lists_the_presets():
    with pytest.raises(UsageError, match="unknown preset.*paper-fc.*ablation-tc-ef"):
        preset_config("paper-xx")


# --------------------------------------------------------------------------- field validation

@pytest.mark.parametrize("make,field", [
    (lambda: ModelConfig(d_e=0), "model.d_e"),
    (lambda: ModelConfig(d_k=-1), "model.d_k"),
    (lambda: ModelConfig(d_e=2.5), "model.d_e"),
    (lambda: ModelConfig(classifier="svm"), "model.classifier"),
    (lambda: ModelConfig(emb_init_std=-1.0), "model.emb_init_std"),
    (lambda: ModelConfig(query_std=float("nan")), "model.query_std"),
    (lambda: ModelConfig(classifier="tl", classifier_matrix="W.npy"), "model.classifier_matrix"),
    (lambda: TrainConfig(lr=0.0), "train.lr"),
    (lambda: TrainConfig(lr=-0.1), "train.lr"),
    (lambda: TrainConfig(lr="fast"), "train.lr"),
    (lambda: TrainConfig(epochs=-1), "train.epochs"),
    (lambda: TrainConfig(batch_size=0), "train.batch_size"),
    (lambda: TrainConfig(trainable=["embeddings", "values"]), "train.trainable"),
    (lambda: TrainConfig(dtype="float16"), "train.dtype"),
    (lambda: TrainConfig(seed=-3), "train.seed"),
    (lambda: TrainConfig(record_every=0), "train.record_every"),
    (lambda: TrainConfig(threads=0), "train.threads"),
    (lambda: CorpusSpec(kind="imdb"), "corpus.kind"),
    (lambda: CorpusSpec(kind="synthetic", sst_dir="/x"), "corpus.sst_dir"),
    (lambda: RunConfig(train=TrainConfig(trainable=["classifier"])), "train.trainable"),
])
def test_bad_fields_name_the_field(make, field):
    with pytest.raises(UsageError) as exc:
        make()
    assert field in str(exc.value)


def test_trainable_default_depends_on_the_classifier():
    assert RunConfig().train.trainable == default_trainable("fc") == {"embeddings", "keys"}
    cfg = RunConfig(model=ModelConfig(classifier="tl"))
    assert cfg.train.trainable == {"embeddings", "keys", "classifier"}
    explicit = RunConfig(model=ModelConfig(classifier="tc"), train=TrainConfig(trainable=["keys"]))
    assert explicit.train.trainable == {"keys"}
    assert RunConfig(train=TrainConfig(trainable="embeddings, query")).query_trainable


# --------------------------------------------------------------------------- TOML and --set

def test_toml_file_with_overrides(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('[corpus]\nkind = "synthetic"\nm = 7\nn_sentences = 300\n'
                 '[model]\nclassifier = "tc"\nd_e = 4\n'
                 '[train]\nlr = 0.05\ntrainable = ["embeddings", "keys", "query"]\n')
    cfg = load_config(f, overrides=["train.lr=0.2", "corpus.split=[0.5, 0.25, 0.25]", "train.dtype=float32"])
    assert cfg.corpus.synthetic.m == 7 and cfg.corpus.synthetic.split == (0.5, 0.25, 0.25)
    assert cfg.model.classifier == "tc" and cfg.model.d_e == 4 and cfg.model.d_k == 10
    assert cfg.train.lr == 0.2 and cfg.train.dtype == "float32"
    assert cfg.train.trainable == {"embeddings", "keys", "query"}


@pytest.mark.parametrize("text,match", [
    ("[trainer]\nlr = 1\n", "unknown section"),
    ("[train]\nlearning_rate = 1\n", "train.learning_rate"),
    ("[corpus]\nwords = 3\n", "unknown key"),
    ("[train]\nlr = \n", "not valid TOML"),
    ("[train]\nepochs = 1.5\n", "train.epochs"),
    ("[corpus]\nm = 0\n", "m"),
    ("[corpus]\nkind = \"sst2\"\nm = 5\n", "unknown key"),
])
def test_bad_toml_is_a_usage_error(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(UsageError, match=match):
        load_config(f)


def test_missing_file_and_ambiguous_source(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "none.toml")
    with pytest.raises(UsageError, match="exactly one"):
        load_config(tmp_path / "x.toml", "paper-fc")
    with pytest.raises(UsageError, match="exactly one"):
        load_config()


def test_set_overrides_parse_types():
    assert parse_value("0.2") == 0.2 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2] and parse_value("none") is None
    assert parse_value("float32") == "float32" and parse_value('"x y"') == "x y"
    cfg = load_config(preset="paper-tc", overrides=["train.batch_size=64", "train.batch_size=none",
                                                   "model.d_e=3", "corpus.topic_probs=[0.1,0.2,0.3,0.4]"])
    assert cfg.train.batch_size is None and cfg.model.d_e == 3
    assert cfg.corpus.synthetic.topic_probs == (0.1, 0.2, 0.3, 0.4)


@pytest.mark.parametrize("item,match", [
    ("train.foo=1", "train.foo: unknown key; valid keys: .*train.lr"),
    ("lr=0.1", "lr: unknown key"),
    ("train.lr", "expected key=value"),
    ("train.lr=abc", "train.lr"),
    ("model.d_e=0", "model.d_e"),
    ("corpus.m=0", "m"),
    ("corpus.n_topics=1", "n_topics"),
    ("corpus.topic_probs=[0.5, 0.6, 0.0, 0.0]", "sum to 1"),
    ("train.trainable=[\"embeddings\", \"bias\"]", "train.trainable"),
])
def test_bad_overrides_name_the_key(item, match):
    with pytest.raises(UsageError, match=match):
        load_config(preset="paper-fc", overrides=[item])


def test_switching_corpus_kind_drops_the_old_fields():
    cfg = load_config(preset="paper-fc", overrides=["corpus.kind=sst5", "corpus.sst_dir=/data/sst"])
    assert cfg.corpus == CorpusSpec("sst5", None, "/data/sst")
    assert "corpus.m" not in valid_keys(cfg.to_dict())
    with pytest.raises(UsageError, match="corpus.m: unknown key"):
        apply_overrides(cfg.to_dict(), ["corpus.m=3"])


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().lr = 1.0


def test_example_config_documents_every_key_of_the_dataclasses():
    """The example is generated from the dataclasses: every valid --set key appears in it, with
    a meaning, a type and a default, and nothing else does."""
    import re
    from attndyn.numerics.config.example import example_toml, MEANINGS
    from attndyn.numerics.config.load import valid_keys
    text = example_toml()
    keys = set(valid_keys()) | {"corpus.sst_dir"}
    assert set(MEANINGS) == keys
    section = None
    shown = set()
    for line in text.splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m.group(1)
        elif m := re.fullmatch(r"#? ?(\w+) = .*", line):
            shown.add(f"{section}.{m.group(1)}")
    assert shown == keys
    assert text.count("# type: ") == len(keys)


def test_paths_in_a_config_file_resolve_against_its_folder(tmp_path, monkeypatch):
    import numpy as np
    from attndyn.numerics.config.load import load_config
    folder = tmp_path / "setting"
    folder.mkdir()
    np.save(folder / "W.npy", np.eye(10, 4))
    (folder / "run.toml").write_text('[model]\nclassifier_matrix = "W.npy"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(folder / "run.toml")
    assert Path(cfg.model.classifier_matrix) == folder / "W.npy"
    assert Path(cfg.model.classifier_matrix).exists()
    # relative to the folder even when the file is named relatively
    monkeypatch.chdir(tmp_path)
    assert Path(load_config("setting/run.toml").model.classifier_matrix).resolve() == folder / "W.npy"
    # an absolute path is kept; a --set path stays relative to the working directory
    (folder / "abs.toml").write_text(f'[model]\nclassifier_matrix = "{folder / "W.npy"}"\n')
    assert load_config(folder / "abs.toml").model.classifier_matrix == str(folder / "W.npy")
    cfg = load_config(folder / "run.toml", overrides=["model.classifier_matrix=V.npy"])
    assert cfg.model.classifier_matrix == "V.npy"
    # sst_dir likewise
    (folder / "sst.toml").write_text('[corpus]\nkind = "sst2"\nsst_dir = "data/sst"\n')
    assert Path(load_config(folder / "sst.toml").corpus.sst_dir) == folder / "data" / "sst"


def test_set_accepts_a_count_in_exponent_form():
    from attndyn.numerics.config.load import parse_value
    assert parse_value("1e10") == 10 ** 10 and isinstance(parse_value("1e10"), int)
    assert parse_value("1e-3") == 1e-3 and isinstance(parse_value("2.0"), float)
    assert isinstance(parse_value("1.5e3"), float)  # written with a point: a float, as written


def test_the_example_config_in_the_repository_is_the_generated_one():
    """README links config.example.toml; it must be exactly what `attndyn config --example` prints
    (regenerate with `attndyn config --example > config.example.toml`)."""
    from attndyn.numerics.config.example import example_toml
    path = Path(__file__).resolve().parents[1] / "config.example.toml"
    assert path.read_text() == example_toml(), "regenerate: attndyn config --example > config.example.toml"
