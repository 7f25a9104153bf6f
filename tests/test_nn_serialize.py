"""save and load: exact round trips as JSON, and clear errors for malformed or hostile files."""

import json
import os
import stat

import pytest

import nn
from nn import MLP, Layer, Neuron, load, save


@pytest.mark.parametrize(
    "model",
    [
        MLP(3, [5, 4, 2], activation="tanh", output_activation="sigmoid", seed=1),
        MLP(2, [1], activation="leaky_relu", seed=2),
        Layer(3, 2, activation="sigmoid", seed=3),
        Neuron(4, activation="linear", seed=4),
    ],
    ids=repr,
)
def test_a_saved_model_loads_as_the_same_architecture_with_exactly_the_same_parameters(model, tmp_path):
    for p in model.parameters():
        p.data += 1e-3  # biases too, so that every number in the file matters
    save(model, tmp_path / "model.json")
    loaded = load(tmp_path / "model.json")
    assert type(loaded) is type(model)
    assert repr(loaded) == repr(model)
    assert loaded.state_dict() == model.state_dict()
    x = [0.3, -0.7, 1.1, 0.2][: model.nin]
    out, expected = loaded(x), model(x)
    assert [o.data for o in out] == [e.data for e in expected] if isinstance(out, list) else out.data == expected.data


def test_the_file_is_plain_json_naming_every_parameter(tmp_path):
    model = MLP(2, [2, 1], seed=0)
    save(model, str(tmp_path / "m.json"))
    document = json.loads((tmp_path / "m.json").read_text())
    assert document["format"] == "autodiff.nn" and document["version"] == 1 and document["model"] == "MLP"
    assert document["config"] == {"nin": 2, "sizes": [2, 1], "activation": "relu", "output_activation": "linear"}
    assert list(document["parameters"]) == [name for name, _ in model.named_parameters()]


def test_saving_over_a_file_replaces_it_whole_and_a_failed_save_keeps_the_old_one(tmp_path):
    path = tmp_path / "model.json"
    first, second = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    save(first, path)
    save(second, path)
    assert load(path).state_dict() == second.state_dict()

    class Custom(nn.Module):
        pass

    with pytest.raises(TypeError, match=r"save: can save Neuron, Layer, MLP, GPT, not Custom"):
        save(Custom(), path)
    assert load(path).state_dict() == second.state_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind


def test_saving_to_a_folder_or_into_a_missing_folder_names_the_path_not_a_temporary_file(tmp_path):
    model = MLP(2, [1], seed=0)
    with pytest.raises(IsADirectoryError, match=r"^save: .*models is a folder; give the path of a file in it"):
        (tmp_path / "models").mkdir()
        save(model, tmp_path / "models")
    with pytest.raises(FileNotFoundError, match=r"^save: .*model.json: the folder .*nowhere does not exist$"):
        save(model, tmp_path / "nowhere" / "model.json")
    with pytest.raises(NotADirectoryError, match=r"^save: .*model.json: .*a-file is not a folder$"):
        (tmp_path / "a-file").write_text("")
        save(model, tmp_path / "a-file" / "model.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "models"]
    assert list((tmp_path / "models").iterdir()) == []


def test_a_folder_that_cannot_be_written_is_named_with_the_error_of_its_kind(tmp_path, monkeypatch):
    def refuse(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "x1y2" + suffix))

    monkeypatch.setattr(nn.serialize.tempfile, "mkstemp", refuse)
    with pytest.raises(
        PermissionError, match=r"save: .*model.json: cannot create a file in .*: Permission denied$"
    ) as info:
        save(MLP(2, [1], seed=0), tmp_path / "model.json")
    assert ".tmp" not in str(info.value)


def test_a_saved_file_gets_the_usual_permissions_not_those_of_a_temporary_file(tmp_path):
    path = tmp_path / "model.json"
    save(Neuron(2, seed=0), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    save(Neuron(2, seed=1), path)
    assert path.stat().st_mode & 0o777 == 0o640


def make_device(path):
    """A character device like /dev/null at `path` (needs root), else a symlink to /dev/null."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        path.symlink_to("/dev/null")


@pytest.mark.parametrize(
    "make, kind",
    [
        (os.mkfifo, r"a FIFO \(named pipe\)"),
        (make_device, "a character device"),
        (lambda path: path.symlink_to("/dev/null"), None),
    ],
    ids=["fifo", "device", "link-to-dev-null"],
)
def test_saving_onto_a_fifo_or_a_device_is_refused_and_leaves_it_as_it_was(tmp_path, make, kind):
    path = tmp_path / "model.json"
    make(path)
    before = os.lstat(path)
    with pytest.raises(ValueError, match=rf"^save: .*model.json.*: not a regular file but {kind or '.*'}; save writes"):
        save(Neuron(2, seed=0), path)
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind


def test_saving_through_a_symlink_replaces_the_file_it_names_and_keeps_the_link(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "links").mkdir()
    target, link = tmp_path / "models" / "model.json", tmp_path / "links" / "latest.json"
    save(Neuron(2, seed=0), target)
    link.symlink_to(os.path.relpath(target, link.parent))
    target.chmod(0o640)
    save(Neuron(2, seed=1), link)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert load(target).state_dict() == Neuron(2, seed=1).state_dict()
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["model.json"]
    assert [p.name for p in (tmp_path / "links").iterdir()] == ["latest.json"]


def test_a_save_that_fails_while_moving_into_place_raises_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    save(Neuron(2, seed=0), path)

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied", str(destination))

    monkeypatch.setattr(nn.serialize.os, "replace", refuse)
    with pytest.raises(PermissionError, match="Permission denied"):
        save(Neuron(2, seed=1), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]
    assert load(path).state_dict() == Neuron(2, seed=0).state_dict()


def test_saving_through_a_dangling_symlink_makes_the_file_it_names(tmp_path):
    link = tmp_path / "latest.json"
    link.symlink_to("model.json")
    save(Neuron(2, seed=1), link)
    assert link.is_symlink() and load(tmp_path / "model.json").state_dict() == Neuron(2, seed=1).state_dict()


def test_saving_onto_a_loop_of_symlinks_is_refused_naming_it(tmp_path):
    (tmp_path / "a.json").symlink_to("b.json")
    (tmp_path / "b.json").symlink_to("a.json")
    with pytest.raises(OSError, match=r"save: .*a.json: a loop of symbolic links$"):
        save(Neuron(2, seed=1), tmp_path / "a.json")
    assert (tmp_path / "a.json").is_symlink() and (tmp_path / "b.json").is_symlink()


def write(tmp_path, content):
    path = tmp_path / "model.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def good_document():
    model = MLP(2, [2, 1], seed=0)
    state = model.state_dict()
    return {"format": "autodiff.nn", "version": 1, "model": "MLP", "config": model.config(), "parameters": state}


def with_changes(**changes):
    document = good_document()
    document.update(changes)
    return document


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"format": "autodiff.nn",\n "version": 1,,}', r"line 2, column 15: not valid JSON"),
        ("", r"line 1, column 1: not valid JSON"),
        ("[1, 2]", r"not a saved model"),
        ({"format": "pickle"}, r"not a saved model"),
        (with_changes(version=2), r"unsupported version 2"),
        (with_changes(version=True), r"unsupported version True"),
        (with_changes(version=1.0), r"unsupported version 1\.0"),
        (with_changes(model=["MLP"]), r"unknown model type \['MLP'\]"),
        (with_changes(model="os.system"), r"unknown model type 'os.system'; known: Neuron, Layer, MLP, GPT"),
        (with_changes(model="Module"), r"unknown model type 'Module'"),
        (with_changes(extra=1), r"unexpected key 'extra'"),
        (with_changes(config={"nin": 2}), r"config of a MLP must be an object with the keys nin, sizes"),
        (with_changes(config={**good_document()["config"], "seed": 1}), r"config of a MLP must be an object"),
        (with_changes(config={**good_document()["config"], "activation": "gelu"}), r"activation must be one of"),
        (with_changes(config={**good_document()["config"], "sizes": [2, "1"]}), r"config sizes must be a positive int"),
        (with_changes(config={**good_document()["config"], "sizes": [10**9, 1]}), r"has 4000000001 parameters, but"),
        (with_changes(parameters=[1, 2]), r"parameters must be an object of names and numbers, got list"),
        (
            with_changes(parameters={**good_document()["parameters"], "layers.0.neurons.0.w.0": "1"}),
            r"parameter 'layers.0.neurons.0.w.0' must be a number, got str",
        ),
        (
            with_changes(parameters={**good_document()["parameters"], "layers.0.neurons.0.w.0": 10**400}),
            r"parameter 'layers.0.neurons.0.w.0' must be finite, got an int too large for a float",
        ),
    ],
)
def test_a_malformed_or_hostile_file_is_a_clear_error_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(ValueError, match=message) as info:
        load(path)
    assert str(path) in str(info.value)


def test_non_finite_numbers_and_duplicate_keys_are_refused(tmp_path):
    text = json.dumps(good_document()).replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": NaN')
    with pytest.raises(ValueError, match=r"NaN is not a finite number"):
        load(write(tmp_path, text))
    text = json.dumps(good_document()).replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": 1e999')
    with pytest.raises(ValueError, match=r"parameter 'layers.0.neurons.0.b' must be finite, got inf"):
        load(write(tmp_path, text))
    text = json.dumps(good_document()).replace('"version": 1', '"version": 1, "version": 1')
    with pytest.raises(ValueError, match=r"duplicate key 'version'"):
        load(write(tmp_path, text))


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path):
    with pytest.raises(ValueError, match=r"model.json"):
        load(write(tmp_path, "[" * 100_000 + "]" * 100_000))


def test_a_binary_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b"\x80\x81\xff")
    with pytest.raises(ValueError, match=r"model.json: not a text \(UTF-8\) file"):
        load(path)


def test_a_missing_file_says_which(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.json"):
        load(tmp_path / "nowhere.json")


def test_a_symlink_to_an_endless_device_is_refused_before_anything_is_read(tmp_path):
    path = tmp_path / "model.json"
    path.symlink_to("/dev/zero")  # read without bound, it fills the memory until the process is killed
    with pytest.raises(ValueError, match=r"model.json: not a regular file but a character device"):
        load(path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    path = tmp_path / "model.json"
    os.mkfifo(path)  # opened for reading as usual, it blocks until something writes
    with pytest.raises(ValueError, match=r"model.json: not a regular file but a FIFO"):
        load(path)


def test_a_directory_is_refused_naming_it(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"models: not a regular file but a directory"):
        load(folder)


def test_a_file_over_max_bytes_is_refused_before_parsing_saying_how_to_raise_the_limit(tmp_path):
    path = tmp_path / "model.json"
    save(MLP(2, [3, 1], seed=0), path)
    size = path.stat().st_size
    with pytest.raises(ValueError) as raised:
        load(path, max_bytes=size - 1)
    assert str(raised.value) == (
        f"load: {path}: the file is {size} bytes, more than max_bytes={size - 1}; "
        "if it is a model you trust, raise the limit: nn.load(path, max_bytes=...)"
    )
    assert load(path, max_bytes=size).state_dict() == MLP(2, [3, 1], seed=0).state_dict()
    assert nn.serialize.MAX_BYTES == 64 * 2**20


def test_a_file_that_says_it_is_small_but_holds_more_is_refused(tmp_path):
    status = "/proc/self/status"  # its size reads as 0, its text is a few hundred bytes
    if not os.path.exists(status) or os.stat(status).st_size != 0:
        pytest.skip("needs Linux's /proc")
    with pytest.raises(ValueError, match=r"status: the file holds more than 10 bytes, more than max_bytes=10"):
        load(status, max_bytes=10)


@pytest.mark.parametrize("max_bytes, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_max_bytes_must_be_a_positive_int(tmp_path, max_bytes, error):
    with pytest.raises(error, match="load: max_bytes must be"):
        load(write(tmp_path, good_document()), max_bytes=max_bytes)
