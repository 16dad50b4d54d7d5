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
