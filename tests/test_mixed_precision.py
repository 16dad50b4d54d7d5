"""`--mixed-precision auto` and bfloat16 where the hardware does not run it natively."""

import warnings

import pytest

from ganzoo.config import resolve_config
from ganzoo.runs.backend import cpu_flags, has_gpu, native_bfloat16
from ganzoo.runs.setup import resolve_mixed_precision

# The flags lines of /proc/cpuinfo on three real CPUs (trimmed): an AVX2-only AMD EPYC (Zen 3),
# an Intel Xeon with AMX (Sapphire Rapids), and an Arm Neoverse V1 (Graviton3).
AVX2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 avx fma avx2 bmi2 sha_ni\n"
AMX = "processor\t: 0\nflags\t\t: fpu avx avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm svebf16\nCPU implementer\t: 0x41\n"

needs_cpu_only = pytest.mark.skipif(has_gpu(), reason="the CPU rule applies where no GPU is used")


def _cpuinfo(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return str(path)


def test_cpu_flags_are_read_on_x86_and_arm(tmp_path):
    assert "avx2" in cpu_flags(_cpuinfo(tmp_path, AVX2)) and "avx512_bf16" not in cpu_flags(_cpuinfo(tmp_path, AVX2))
    assert "bf16" in cpu_flags(_cpuinfo(tmp_path, ARM))
    assert cpu_flags(str(tmp_path / "missing")) is None


@needs_cpu_only
@pytest.mark.parametrize("text, native, chosen, said", [
    (AMX, True, "bfloat16", "mixed bfloat16 on a CPU with AMX_BF16"),
    (ARM, True, "bfloat16", "mixed bfloat16 on a CPU with BF16"),
    (AVX2, False, "off", "float32 on a CPU without AVX512_BF16, AMX or Arm BF16"),
    (None, None, "off", "float32 (this CPU's instruction set could not be read)"),
])
def test_auto_takes_bfloat16_only_where_the_cpu_has_it(tmp_path, capsys, text, native, chosen, said):
    cpuinfo = _cpuinfo(tmp_path, text) if text else str(tmp_path / "missing")
    assert native_bfloat16(cpuinfo)[0] is native
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_mixed_precision("auto", cpuinfo) == chosen
    assert said in capsys.readouterr().out


@needs_cpu_only
def test_bfloat16_asked_for_where_it_is_emulated_is_warned_about_and_kept(tmp_path):
    with pytest.warns(UserWarning, match=r"bfloat16 on a CPU without AVX512_BF16.*--mixed-precision auto"):
        assert resolve_mixed_precision("bfloat16", _cpuinfo(tmp_path, AVX2)) == "bfloat16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_mixed_precision("bfloat16", _cpuinfo(tmp_path, AMX)) == "bfloat16"
        assert resolve_mixed_precision("off", _cpuinfo(tmp_path, AVX2)) == "off"
    with pytest.warns(UserWarning, match="float16 on a machine without a GPU: CPUs emulate float16"):
        assert resolve_mixed_precision("float16", _cpuinfo(tmp_path, AMX)) == "float16"


def test_the_bfloat16_preset_asks_for_auto():
    assert resolve_config("dcgan_clusters_fashion_mnist").mixed_precision == "auto"
    assert resolve_config("dcgan", mixed_precision="auto").mixed_precision == "auto"


def test_config_record_keeps_the_policy_each_restart_computed_in():
    from ganzoo.runs.record import config_record, without_records

    config = resolve_config(preset="gan_gaussian_ring", mixed_precision="auto")
    first = config_record(config, None, 0, "mixed_bfloat16")
    assert first["computed_in"] == [{"step": 0, "policy": "mixed_bfloat16"}]
    assert config_record(config, first, 300, "mixed_bfloat16")["computed_in"] == first["computed_in"]
    moved = config_record(config, first, 600, "float32")  # resumed on a CPU without native bf16
    assert moved["computed_in"] == [{"step": 0, "policy": "mixed_bfloat16"}, {"step": 600, "policy": "float32"}]
    assert without_records(moved) == config.to_dict()


@pytest.mark.filterwarnings("ignore:--mixed-precision bfloat16 on:UserWarning")
@pytest.mark.parametrize("asked", ["auto", "bfloat16"])
def test_a_run_and_its_export_card_say_what_precision_it_computed_in(tmp_path, run_main, tiny_args, asked):
    """The config keeps the flag as asked (a resume repeats it); config.json's record and the card
    of an export made later from the run directory say which policy the steps ran in."""
    import json

    policy = {"bfloat16": "mixed_bfloat16", "off": "float32"}[resolve_mixed_precision(asked)]
    run = tmp_path / "run"
    argv = ["train", "gan", "--dataset", "gaussian_ring", *tiny_args, "--run-dir", str(run),
            "--mixed-precision", asked, "--epochs", "1"]
    code, _, err = run_main(argv)
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert saved["mixed_precision"] == asked and saved["computed_in"] == [{"step": 0, "policy": policy}]
    code, _, err = run_main([*argv[:-1], "2"])  # resumed on the same machine: one entry still
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["computed_in"] == [{"step": 0, "policy": policy}]
    code, _, err = run_main(["export", str(run), "--out", str(tmp_path / "export"), "--format", "onnx"])
    assert code == 0, err
    card = json.loads((tmp_path / "export" / "1" / "model.json").read_text())
    assert card["computed_in"] == [{"step": 0, "policy": policy}] and card["config"]["mixed_precision"] == asked
