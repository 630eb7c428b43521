import torch

from hima.model import GPT, gpt_config, padded_vocab


def test_vocab_is_padded_to_a_multiple_of_64():
    assert padded_vocab(50257) == 50304
    assert padded_vocab(4096) == 4096
    assert padded_vocab(1) == 64


def test_logits_shape_and_loss():
    model = GPT(gpt_config("tiny", vocab_size=100, block_size=32))
    torch.manual_seed(0)
    idx, targets = torch.randint(0, 100, (3, 32)), torch.randint(0, 100, (3, 32))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 32, 128)  # 100 padded to 128
    # An untrained model predicts ~uniformly: loss near ln(vocab).
    assert abs(loss.item() - torch.log(torch.tensor(128.0)).item()) < 0.5


def test_embeddings_are_tied_and_registered_once():
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16))
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and names.count("transformer.wte.weight") == 1


def test_presets_have_gpt2_sizes():
    def n_params(preset: str) -> int:
        c = gpt_config(preset, 50257)
        per_block = 12 * c.n_embd**2 + 13 * c.n_embd
        return c.vocab_size * c.n_embd + c.block_size * c.n_embd + c.n_layer * per_block + 2 * c.n_embd

    assert 123e6 < n_params("small") < 126e6
    assert 350e6 < n_params("medium") < 360e6


def test_attention_is_causal():
    torch.manual_seed(0)
    model = GPT(gpt_config("tiny", vocab_size=64, block_size=16)).eval()
    a = torch.randint(0, 64, (1, 16))
    b = a.clone()
    b[0, 10:] = (b[0, 10:] + 1) % 64  # change only the future of position 9
    with torch.no_grad():
        la, _ = model(a)
        lb, _ = model(b)
    assert torch.allclose(la[0, :10], lb[0, :10], atol=1e-5)
    assert not torch.allclose(la[0, 10:], lb[0, 10:])
