"""training/: split, data, recipes, resume, evaluate, export, and a 2-process gloo run."""
import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import args_for, color_folder, color_photo

from training import data as tdata
from training import evaluate, export, train
from training.metrics import colourfulness, psnr
from vidcolor import load_model
from vidcolor.models import BODIES, ModelConfig, build_model

SIZE = 32  # training side for the tests
OVERFIT_SIZE = 16  # smaller still for the many steps of over-fitting


@pytest.fixture
def photo_dir(tmp_path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(18):
        folder = root / "sub" if i % 3 == 0 else root
        cv2.imwrite(str(folder / f"p{i:02d}.jpg"), cv2.cvtColor(color_photo(i), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "grey.png"), np.full((40, 40, 3), 128, np.uint8))
    (root / "broken.jpg").write_bytes(b"this is not a jpeg")
    (root / "empty.png").write_bytes(b"")
    return root


def test_split_is_stable_disjoint_reused_and_skips_bad_images(photo_dir, tmp_path):
    with pytest.warns(UserWarning, match="skipped 3 of 21 images") as caught:
        split = tdata.make_split(photo_dir, tmp_path / "a.json", seed=3)
    message = str(caught[0].message)
    assert "broken.jpg" in message and "empty.png" in message and "grey.png" in message
    assert split["skipped"] == {"broken.jpg": "unreadable", "empty.png": "unreadable", "grey.png": "grey"}
    parts = [set(split[k]) for k in ("train", "validation", "test")]
    assert sum(map(len, parts)) == 18 and len(set.union(*parts)) == 18
    assert all(parts) and len(parts[0]) >= 10
    assert "sub/p00.jpg" in set.union(*parts)
    with pytest.warns(UserWarning):
        again = tdata.make_split(photo_dir, tmp_path / "b.json", seed=3)
    assert again == split  # same seed, same split
    assert tdata.make_split(photo_dir, tmp_path / "a.json", seed=99) == split  # the saved one is reused
    # new photos join by the hash of their ID; no existing photo changes split
    for i in range(30):
        (photo_dir / f"new{i:02d}.jpg").write_bytes((photo_dir / f"p{(i % 6) * 3 + 1:02d}.jpg").read_bytes())
    grown = tdata.make_split(photo_dir, tmp_path / "a.json", seed=3)
    for k in ("train", "validation", "test"):
        assert set(split[k]) <= set(grown[k])
        assert all(tdata.split_of(i, 3) == k for i in set(grown[k]) - set(split[k]))
    assert sum(len(grown[k]) for k in ("train", "validation", "test")) == 48
    assert tdata.make_split(photo_dir, tmp_path / "c.json", base=tmp_path / "a.json") == {**grown, "seed": 0}


def test_empty_and_all_grey_folders_are_clear_errors(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(tdata.DataError, match="no images found"):
        tdata.make_split(tmp_path / "none", tmp_path / "s.json")
    grey = tmp_path / "grey"
    grey.mkdir()
    for i in range(4):
        cv2.imwrite(str(grey / f"{i}.png"), np.full((20, 20, 3), 60 * i, np.uint8))
    with pytest.warns(UserWarning), pytest.raises(tdata.DataError, match="usable colour images"):
        tdata.make_split(grey, tmp_path / "s.json")


def test_a_bare_command_trains_the_shipped_recipe_and_the_paper_is_one_flag_away(tmp_path):
    parse = train.get_args_parser().parse_args
    config, recipe = train.resolve_config(parse(["--data", "d", "--out", "o"]))
    shipped = load_model("default", device="cpu").config
    assert recipe.name == "lite0-ce-classify" and config.body == shipped.body == "lite0-unet"
    assert (config.size, config.num_bins, config.input_scaling) == (shipped.size, shipped.num_bins, shipped.input_scaling)
    config, recipe = train.resolve_config(parse(["--data", "d", "--out", "o", "--recipe", "adam-mae-swish"]))
    assert config == ModelConfig.paper() and (recipe.loss, recipe.optimizer) == ("mae", "adam")
    with pytest.raises(ValueError, match="--loss mae does not fit the classification head"):
        train.resolve_config(parse(["--data", "d", "--out", "o", "--loss", "mae"]))


def test_training_items_are_deterministic_and_scaled(photo_dir, tmp_path):
    with pytest.warns(UserWarning):
        split = tdata.make_split(photo_dir, tmp_path / "s.json")
    config, _ = train.resolve_config(args_for(photo_dir, tmp_path))
    ds = tdata.ColorImages(photo_dir, split["train"], config, SIZE, train=True, seed=5, length=30)
    light, ab = ds[17]
    assert light.shape == (1, SIZE, SIZE) and ab.shape == (2, SIZE, SIZE)
    assert 0 <= light.min() and light.max() <= 100 and light.max() > 1  # raw L for adam-mae-swish
    assert ab.abs().max() <= 1
    assert torch.equal(ds[17][0], light)
    ds.set_epoch(1)
    assert not torch.equal(ds[17][0], light)  # a new epoch draws new crops


@pytest.mark.slow
@pytest.mark.parametrize("recipe", sorted(train.RECIPES))
def test_each_recipe_overfits_a_fixed_batch(photo_dir, tmp_path, recipe):
    torch.manual_seed(0)
    with pytest.warns(UserWarning):
        split = tdata.make_split(photo_dir, tmp_path / "s.json")
    args = args_for(photo_dir, tmp_path, recipe=recipe)
    config, recipe = train.resolve_config(args)
    lr = recipe.lr
    side = max(OVERFIT_SIZE, BODIES[config.body].stride)  # the lite0-unet body needs a multiple of 32
    ds = tdata.ColorImages(photo_dir, split["train"], config, side, train=True)
    light, ab = map(torch.stack, zip(*[ds[i] for i in range(8)]))
    model = build_model(config)  # a lite0-unet's encoder at random: this is about the recipe's decoder
    # cross-entropy over 261 bins starts far above its floor: the recipe's careful 1e-4 needs more
    # than 60 steps to halve it, ten times that rate does it without leaving the over-fitting regime
    # (likewise the decoded-colour loss, whose 3e-5 is a fine-tuning rate)
    boost = 10 if config.head == "classification" else 1
    optimizer = train.make_optimizer(recipe.optimizer, train.param_groups(model, lr * boost, recipe.encoder_lr),
                                     lr * boost, recipe.weight_decay)
    model.train()
    criterion = train.make_criterion(config, recipe, model, ds, {})
    losses = []
    for _ in range(60):
        loss = criterion(model(light), ab)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.5 * losses[0], (recipe, losses[0], losses[-5:])


def read_log(run: Path) -> list[dict]:
    with open(run / "log.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_train_writes_everything_and_resume_continues_exactly(photo_dir, tmp_path):
    split_path = tmp_path / "split.json"
    with pytest.warns(UserWarning):
        tdata.make_split(photo_dir, split_path)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train.main(args_for(photo_dir, straight, epochs=2, split=str(split_path)))
    # interrupted after its first epoch (the time limit), then resumed
    train.main(args_for(photo_dir, resumed, epochs=2, split=str(split_path), max_minutes=1e-9))
    assert len(read_log(resumed)) == 1
    resumed_lr = train.main(args_for(photo_dir, resumed, epochs=2, split=str(split_path), resume=True))
    a, b = read_log(straight), read_log(resumed)
    assert len(a) == len(b) == 2
    assert a[0]["train_loss"] == b[0]["train_loss"]
    assert a[1]["train_loss"] == b[1]["train_loss"] and a[1]["val_psnr"] == b[1]["val_psnr"]
    assert resumed_lr["epoch"] == 2
    for name in ("last.pt", "best.pt", "loss.png", "samples.png", "log.csv"):
        assert (straight / name).is_file(), name
    assert cv2.imread(str(straight / "samples.png")).shape[1] == 3 * 256


def test_metrics_match_hand_computation():
    truth = np.full((10, 10, 3), 100, np.uint8)
    assert psnr(truth + 10, truth) == pytest.approx(10 * math.log10(255 ** 2 / 100))
    assert psnr(truth, truth) == 100.0
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2, :, 0] = 255  # top half red, bottom half blue
    img[2:, :, 2] = 255
    # rg: 255 | 0 -> sd 127.5, mu 127.5; yb: 127.5 | -255 -> sd 191.25, mu -63.75
    expected = math.hypot(127.5, 191.25) + 0.3 * math.hypot(127.5, -63.75)
    assert colourfulness(img) == pytest.approx(expected)
    assert colourfulness(np.full((5, 5, 3), 77, np.uint8)) == 0.0


def test_grey_baseline_keeps_l_and_drops_color():
    img = color_photo(1)
    grey = evaluate.grey_baseline(img)
    assert colourfulness(grey) < 1.0
    lab_img, lab_grey = evaluate.rgb_to_lab_np(img), evaluate.rgb_to_lab_np(grey)
    assert float((lab_grey[0] - lab_img[0]).abs().max()) < 0.6  # L* kept (to 8-bit rounding)
    assert float(lab_grey[1:].abs().max()) < 0.6  # a* = b* = 0
    # the a/b error of the grey baseline is the photo's own mean chroma, computed by hand
    chroma = float(np.hypot(lab_img[1].numpy(), lab_img[2].numpy()).mean())
    assert evaluate.ab_error(grey, img) == pytest.approx(chroma, abs=0.6) and chroma > 10
    assert evaluate.ab_error(img, img) == 0.0
    assert psnr(grey, img) < 40


@pytest.mark.slow
def test_export_evaluate_and_load_give_identical_predictions(photo_dir, tmp_path):
    split_path = tmp_path / "run" / "split.json"
    split_path.parent.mkdir()
    with pytest.warns(UserWarning):
        split = tdata.make_split(photo_dir, split_path)
    train.main(args_for(photo_dir, tmp_path / "run", epochs=1))
    meta = export.export(tmp_path / "run" / "best.pt", tmp_path / "model.pt")
    assert meta["metrics"]["images"] == len(split["test"]) and meta["data"]["train"] == len(split["train"])
    old = torch.load(tmp_path / "run" / "best.pt", weights_only=False)  # a checkpoint that says no data
    del old["data"]
    torch.save(old, tmp_path / "run" / "old.pt")
    with pytest.raises(SystemExit) as info:
        export.cli([str(tmp_path / "run" / "old.pt"), str(tmp_path / "old_model.pt")])
    assert str(info.value.code).startswith("vidcolor-export: error:") and "not a training checkpoint" in str(
        info.value.code) and not (tmp_path / "old_model.pt").exists()
    loaded = load_model(tmp_path / "model.pt", device="cpu")
    assert all(v.dtype == torch.float32 for v in loaded.state_dict().values())
    ckpt_model, _ = export.load_checkpoint(tmp_path / "run" / "best.pt")
    ckpt_model.load_state_dict({k: v.half().float() for k, v in ckpt_model.state_dict().items()})
    x = torch.rand(2, 1, SIZE, SIZE) * 100
    with torch.inference_mode():
        assert torch.equal(loaded(x), ckpt_model(x))
    assert loaded.metadata["metrics"]["psnr"] == pytest.approx(meta["metrics"]["psnr"])
    # a fresh evaluate run on the same split reproduces the exported numbers
    args = evaluate.get_args_parser().parse_args(
        ["--model", str(tmp_path / "model.pt"), "--data", str(photo_dir), "--split", "test",
         "--split-file", str(split_path), "--out", str(tmp_path / "eval"), "--quiet"])
    report = evaluate.main(args)
    assert report["mean"]["psnr"] == pytest.approx(meta["metrics"]["psnr"], abs=1e-6)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["images"] == len(split["test"])
    assert (tmp_path / "eval" / "contact_sheet.png").is_file()


@pytest.mark.slow
def test_torchrun_two_processes_gloo(photo_dir, tmp_path):
    # torchrun as this interpreter's module: a torchrun script on PATH may belong to another Python
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*torchrun, "--standalone", "--nproc_per_node", "2", "-m", "training.train", "--data", str(photo_dir),
         "--out", str(tmp_path / "ddp"), "--size", str(SIZE), "--epochs", "1", "--batch-size", "2",
         "--samples-per-epoch", "8", "--workers", "0", "--quiet"],
        capture_output=True, text=True, timeout=300, env=env, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(read_log(tmp_path / "ddp")) == 1
    assert (tmp_path / "ddp" / "last.pt").is_file()
    ckpt = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    assert ckpt["history"][0]["images"] == 8  # both ranks' images counted


@pytest.mark.slow
def test_init_from_a_checkpoint_at_another_size_records_lineage(photo_dir, tmp_path):
    split_path = tmp_path / "split.json"
    with pytest.warns(UserWarning):
        tdata.make_split(photo_dir, split_path)
    train.main(args_for(photo_dir, tmp_path / "a", split=str(split_path)))
    train.main(args_for(photo_dir, tmp_path / "b", split=str(split_path), size=16, init=str(tmp_path / "a" / "last.pt")))
    first = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    second = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert second["config"]["size"] == 16 and second["lineage"][0]["config"]["size"] == SIZE
    assert second["lineage"][0]["images"] == 8
    meta = export.export(tmp_path / "b" / "last.pt", tmp_path / "m.pt", evaluate=False)
    assert meta["total_wall_seconds"] == pytest.approx(first["wall_seconds"] + second["wall_seconds"], abs=0.2)


def train_cli_error(capsys, argv) -> str:
    """The one line a failed vidcolor-train says: exit 2 for an option's value (printed), else exit 1
    with the message as the SystemExit's."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        train.cli([str(a) for a in argv])
    if info.value.code == 2:
        message = capsys.readouterr().err.strip()
    else:
        message = str(info.value.code)
    assert message.startswith("vidcolor-train: error: ") and "\n" not in message, message
    return message


def test_training_toolkit_errors_are_one_line(photo_dir, tmp_path, capsys):
    common = ["--epochs", "1", "--size", "32", "--samples-per-epoch", "4", "--batch-size", "4", "--quiet",
              "--recipe", "adam-mae-swish"]
    assert "no such folder" in train_cli_error(capsys, ["--data", tmp_path / "nope", "--out", tmp_path / "r", *common])
    assert "--size must be a positive multiple of 8" in train_cli_error(
        capsys, ["--data", photo_dir, "--out", tmp_path / "r", *common[:2], "--size", "60", "--recipe", "adam-mae-swish"])
    assert "multiple of 32 for the lite0-unet" in train_cli_error(
        capsys, ["--data", photo_dir, "--out", tmp_path / "r", *common[:2], "--size", "48"])
    assert not (tmp_path / "r").exists()  # refused before the run folder was made
    few = tmp_path / "few"
    few.mkdir()
    for i in range(4):
        cv2.imwrite(str(few / f"{i}.jpg"), cv2.cvtColor(color_photo(i), cv2.COLOR_RGB2BGR))
    assert "need at least 10" in train_cli_error(capsys, ["--data", few, "--out", tmp_path / "f", *common])
    assert "--init" in train_cli_error(capsys, ["--data", photo_dir, "--out", tmp_path / "ft", *common,
                                                "--recipe", "adam-mse-colourful-classify"])
    assert not (tmp_path / "ft").exists()  # refused before anything was written
    assert not (tmp_path / "f").exists()  # a run that failed at its start leaves no folder
    with pytest.warns(UserWarning):
        train.main(args_for(photo_dir, tmp_path / "run"))
    before = (tmp_path / "run" / "log.csv").read_text()
    assert "--resume" in train_cli_error(capsys, ["--data", photo_dir, "--out", tmp_path / "run", *common])
    assert (tmp_path / "run" / "log.csv").read_text() == before
    assert "--resume" in train_cli_error(capsys, ["--data", photo_dir, "--out", tmp_path / "new", "--resume", *common])


def test_every_crop_of_an_epoch_is_trained(photo_dir, tmp_path):
    with pytest.warns(UserWarning):
        result = train.main(args_for(photo_dir, tmp_path / "run", samples_per_epoch=10, batch_size=4))
    assert result["images"] == 10  # 4 + 4 + 2: the last, smaller batch is not dropped


def test_a_training_checkpoint_is_a_model_everywhere(photo_dir, tmp_path):
    with pytest.warns(UserWarning):
        train.main(args_for(photo_dir, tmp_path / "run"))
    model = load_model(tmp_path / "run" / "best.pt", device="cpu")
    assert model.config.size == SIZE and "training checkpoint" in model.metadata["provenance"]
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "x.jpg"), cv2.cvtColor(color_photo(1), cv2.COLOR_RGB2BGR))
    args = evaluate.get_args_parser().parse_args(["--model", str(tmp_path / "run" / "best.pt"), "--data", str(other),
                                                  "--split", "test", "--split-file", str(tmp_path / "run" / "split.json")])
    with pytest.raises(ValueError, match="another data folder"):
        evaluate.main(args)


@pytest.mark.slow
def test_toolkit_commands_are_installed_and_run_from_anywhere(tmp_path):
    for name in ("vidcolor-train", "vidcolor-evaluate", "vidcolor-export"):
        exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
        assert exe, f"{name} is not installed"
        proc = subprocess.run([exe, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr


def test_export_checks_its_output_first(tmp_path, monkeypatch, capsys):
    weights = tmp_path / "fake.pt"
    torch.save({"model": {}, "config": {}, "epoch": 0}, weights)
    for out, extra, words in ((tmp_path / "nodir" / "out.pt", [], "does not exist"),
                              (weights, [], "--overwrite")):
        with pytest.raises(SystemExit) as info:
            export.cli([str(weights), str(out), *extra])
        assert str(info.value.code).startswith("vidcolor-export: error:") and words in str(info.value.code)
    assert not (tmp_path / "nodir").exists()


def test_evaluate_errors_name_the_program_and_whole_names_fit_the_table(tmp_path):
    with pytest.raises(SystemExit) as info:
        evaluate.cli(["--model", "default", "--data", str(tmp_path / "nope")])
    assert str(info.value.code).startswith("vidcolor-evaluate: error: --data")
    name = "digikam-data__a-long-name-of-a-photo-with-a-background.jpg"
    row = dict(image=name, psnr=20.0, psnr_grey=19.0, colourfulness=10.0, colourfulness_truth=12.0, ab_error=5.0)
    mean = {k: v for k, v in row.items() if k != "image"}
    report = {"images": 1, "per_image": [row], "mean": {**mean, "colourfulness_ratio": 0.8}}
    assert name in evaluate.format_table(report)


def grey_folder(root: Path) -> Path:
    root.mkdir()
    for i in range(12):
        cv2.imwrite(str(root / f"g{i}.png"), np.full((40, 40, 3), 20 * i, np.uint8))
    return root


def test_training_warnings_are_one_line_with_the_program_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        train.cli(["--data", str(grey_folder(tmp_path / "grey")), "--out", str(tmp_path / "r"), "--size", "32"])
    assert "need at least 10" in str(info.value.code)
    err = capsys.readouterr().err
    assert err.startswith("vidcolor-train: warning: skipped 12") and "UserWarning" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_resume_takes_the_recipe_and_every_epoch_is_reported(tmp_path, capsys):
    data = color_folder(tmp_path / "photos")
    common = ["--data", str(data), "--out", str(tmp_path / "run"), "--samples-per-epoch", "4", "--batch-size", "4",
              "--quiet"]
    train.cli([*common, "--recipe", "adam-ce-classify", "--size", "32", "--epochs", "1"])
    err = capsys.readouterr().err
    assert "vidcolor-train: epoch 1/1: loss" in err and "dB over grey" in err and "(best so far)" in err
    assert "vidcolor-train: done: 1 epoch, 4 crops" in err
    assert "photos to train on" in err and "to validate" in err  # said before epoch 1
    train.cli([*common, "--resume", "--epochs", "2"])  # no --recipe, no --size: the run's own
    assert "epoch 2/2" in capsys.readouterr().err
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["config"]["head"] == "classification" and ckpt["config"]["size"] == 32
    message = train_cli_error(capsys, [*common, "--resume", "--epochs", "3", "--recipe", "adam-mae-swish"])
    assert message.startswith("vidcolor-train: error: --resume") and "--recipe adam-ce-classify" in message
    assert "\n" not in message


@pytest.mark.slow
def test_resume_keeps_the_runs_plan_and_refits_a_new_one(tmp_path, capsys):
    """A run planned for 4 epochs and stopped after 1 resumes as epoch 2/4 on its own cosine; a
    finished run given a larger --epochs trains above the floor rate, the cosine refitted to it."""
    import math
    data = color_folder(tmp_path / "photos")
    common = ["--data", str(data), "--out", str(tmp_path / "run"), "--samples-per-epoch", "4", "--batch-size", "4",
              "--quiet"]
    train.cli([*common, "--recipe", "adam-mae-swish", "--size", "32", "--epochs", "4", "--max-minutes", "1e-6"])
    capsys.readouterr()
    train.cli([*common, "--resume", "--max-minutes", "1e-6"])  # no --epochs: the run's own 4
    err = capsys.readouterr().err
    assert "resuming at epoch 2 of 4, on the run's own schedule" in err and "epoch 2/4" in err
    lrs = [float(row.split(",")[6]) for row in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    cosine = lambda e, t: 3e-4 * (0.05 + 0.95 * (1 + math.cos(math.pi * e / t)) / 2)  # noqa: E731
    assert lrs == pytest.approx([cosine(0, 4), cosine(1, 4)])
    train.cli([*common, "--resume"])  # to the end of its plan: the floor
    with pytest.raises(SystemExit, match="has finished its 4 epochs; give a larger --epochs"):
        train.cli([*common, "--resume"])
    train.cli([*common, "--resume", "--epochs", "6"])
    err = capsys.readouterr().err
    assert "resuming at epoch 5 of 6 (the run planned 4)" in err
    lrs = [float(row.split(",")[6]) for row in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert len(lrs) == 6 and lrs[4] == pytest.approx(cosine(4, 6)) and lrs[4] > 2 * cosine(4, 4)


def test_a_loss_that_is_not_finite_stops_training_before_it_reaches_the_weights():
    from vidcolor import ColorNet, ModelConfig
    torch.manual_seed(0)
    model = ColorNet(ModelConfig.paper(size=32))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = [(torch.rand(2, 1, 32, 32), torch.rand(2, 2, 32, 32))]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="not finite"):
        train.train_one_epoch(model, loader, optimizer, lambda pred, ab: (pred * float("nan")).mean(),
                              torch.device("cpu"), None, None, None)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("bf16_gpu", [True, False])
@pytest.mark.parametrize("amp", ["auto", "off", "bf16", "fp16"])
def test_validation_on_cuda_runs_in_a_precision_inference_accepts(monkeypatch, amp, bf16_gpu):
    """Training on an Ampere/Hopper GPU picks bf16; its end-of-epoch validation must colour in what
    inference on CUDA accepts (it refused bf16, crashed the run and removed its folder)."""
    from vidcolor.colorizer import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
    cuda = torch.device("cuda")
    dtype = train.amp_dtype(amp, cuda)
    precision = train.validation_precision(dtype, cuda)
    assert resolve_precision(precision, cuda) in ("fp16", "fp32")
    assert (precision == "fp32") == (amp == "off")


def test_validation_on_the_cpu_colours_in_the_training_precision():
    cpu = torch.device("cpu")
    assert train.validation_precision(None, cpu) == "fp32"
    assert train.validation_precision(torch.bfloat16, cpu) == "bf16"


def test_vidcolor_train_usage_errors_exit_2_as_every_command(tmp_path, photo_dir, capsys):
    with pytest.raises(SystemExit) as info:
        train.cli(["--data", str(photo_dir), "--out", str(tmp_path / "r"), "--epochs", "0"])
    assert info.value.code == 2 and "--epochs must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        train.cli(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert str(info.value.code).startswith("vidcolor-train: error: --data")  # not an option's value: 1
