from torch import nn

from hima.app.model import GPT, gpt_config
from hima.app.tensor_layout import place_of, tensor_infos


def test_gpt_names_map_to_tier_map_rows_and_columns():
    infos = {t["name"]: t for t in tensor_infos(GPT(gpt_config("tiny", 64, 16)))}
    assert len(infos) == 2 + 4 * 12 + 2
    assert infos["transformer.wte.weight"] | {} == {"name": "transformer.wte.weight", "layer": None, "group": "embeddings",
                                                  "kind": "wte", "shape": [64, 128], "numel": 64 * 128}
    assert (infos["transformer.h.3.attn.c_attn.bias"]["layer"], infos["transformer.h.3.attn.c_attn.bias"]["group"],
            infos["transformer.h.3.attn.c_attn.bias"]["kind"]) == (3, "block 3", "attn.qkv.bias")
    kinds = {t["kind"] for t in infos.values() if t["layer"] == 0}
    assert kinds == {"ln_1", "ln_1.bias", "attn.qkv", "attn.qkv.bias", "attn.proj", "attn.proj.bias",
                     "ln_2", "ln_2.bias", "mlp.in", "mlp.in.bias", "mlp.out", "mlp.out.bias"}
    assert (infos["transformer.ln_f.weight"]["group"], infos["transformer.ln_f.bias"]["kind"]) == ("final norm", "ln_f.bias")


def test_other_models_use_module_path_and_leaf_name():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Sequential(nn.Linear(4, 2)))
    infos = tensor_infos(model)
    assert [(t["name"], t["layer"], t["group"], t["kind"]) for t in infos] == [
        ("0.weight", None, "0", "weight"), ("0.bias", None, "0", "bias"),
        ("2.0.weight", None, "2.0", "weight"), ("2.0.bias", None, "2.0", "bias"),
    ]


def test_compiled_wrapper_prefix_is_ignored_and_odd_names_survive():
    assert place_of("transformer.h._orig_mod.0.mlp.c_fc.weight") == place_of("transformer.h.0.mlp.c_fc.weight")
    assert place_of("scale").group == "(root)"
    assert place_of("transformer.h.1.extra.weight").group == "transformer.h.1.extra"  # unknown part of a block
